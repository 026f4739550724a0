SELECT U&'\0041\0042' AS a;
SELECT U&'d\0061t\+000061' AS b;
SELECT U&'d!0061t!+000061' UESCAPE '!' AS c;
SELECT U&"\0061bc" FROM (SELECT 1 AS abc) s;
SELECT u&'lower; case' AS d;
SELECT 'héllo wörld' AS e, '日本語' AS f, '😀' AS g;
