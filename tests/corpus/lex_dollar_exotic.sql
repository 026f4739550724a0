SELECT $😀$emoji; tag$😀$ AS emoji;
SELECT $é$accent; tag$é$ AS accent;
SELECT $日本$kanji; tag$日本$ AS kanji;
SELECT $𝔘$beyond U+FFFF; too$𝔘$ AS math;
SELECT 1$$ ; $$;
SELECT 'after the odd one' AS last;
