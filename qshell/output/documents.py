"""psql's document formats: ``\\pset format html``, ``asciidoc``, ``latex``, ``latex-longtable``
and ``troff-ms``, tables and expanded records (``\\H`` is html).

Each draws a whole result (title, header, rows, the ``(N rows)`` footer) the way psql's
``print_html_text``/``_vertical``, ``print_asciidoc_*``, ``print_latex_*``,
``print_latex_longtable_text`` and ``print_troff_ms_*`` (src/fe_utils/print.c) do,
reimplemented: each format's escaping of special characters, psql's alignment letters
(``r`` for numbers), ``border`` and ``tableattr``. Values are text as the server sent it
(NULL as the null display). Checked against psql 18 in tests/test_pset.py. Never touches
the database.
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

from qshell.output.psql_formats import PrintOptions

FORMATS = ("html", "asciidoc", "latex", "latex-longtable", "troff-ms")


def _html(text: str) -> str:
    out, leading = [], True
    for c in text:
        if c == " ":
            out.append("&nbsp;" if leading else " ")
            continue
        leading = False
        out.append({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": "<br />\n", '"': "&quot;"}.get(c, c))
    return "".join(out)


Footer = Union[str, Sequence[str], None]  # "(N rows)", or a catalog table's lines (\\d NAME's indexes…), or none


def _each(footer: Footer) -> Sequence[str]:
    """The footer's lines, each escaped and ended on its own as psql prints a table's footers."""
    return () if footer is None else (footer,) if isinstance(footer, str) else footer


def _custom(footer: Footer) -> bool:
    """A table's own footer lines (\\d NAME's), which psql prints under expanded records too."""
    return footer is not None and not isinstance(footer, str)


def _blank(text: str) -> bool:
    """Only spaces and tabs (or nothing): psql writes a placeholder for such a value."""
    return text.strip(" \t") == ""


def _asciidoc(text: str) -> str:
    return text.replace("|", "\\|")


_LATEX = {"#": "\\#", "$": "\\$", "%": "\\%", "&": "\\&", "<": "\\textless{}", ">": "\\textgreater{}",
          "\\": "\\textbackslash{}", "^": "\\^{}", "_": "\\_", "{": "\\{", "|": "\\textbar{}", "}": "\\}",
          "~": "\\~{}", "\n": "\\\\"}


def _latex(text: str) -> str:
    return "".join(_LATEX.get(c, c) for c in text)


def _troff(text: str) -> str:
    return text.replace("\\", "\\(rs")


def html(names: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], opts: PrintOptions,
         footer: Footer, expanded: bool, first: int = 1) -> str:
    tuples = opts.tuples_only
    out = [f'<table border="{opts.border}"' + (f" {opts.tableattr}" if opts.tableattr is not None else "") + ">\n"]
    if not tuples and opts.title is not None:
        out.append(f"  <caption>{_html(opts.title)}</caption>\n")
    if expanded:
        for k, row in enumerate(rows):
            out.append("\n  <tr><td colspan=\"2\">&nbsp;</td></tr>\n" if tuples else
                       f"\n  <tr><td colspan=\"2\" align=\"center\">Record {first + k}</td></tr>\n")
            for name, value, r in zip(names, row, right, strict=True):
                out.append(f"  <tr valign=\"top\">\n    <th>{_html(name)}</th>\n"
                           f"    <td align=\"{'right' if r else 'left'}\">{'&nbsp; ' if _blank(value) else _html(value)}</td>\n  </tr>\n")
        out.append("</table>\n")
        if _custom(footer) and not tuples:  # (a query's "(N rows)" is not printed under records; a table's own footers are)
            out.append("<p>" + "".join(_html(f) + "<br />\n" for f in _each(footer)) + "</p>")
        out.append("\n")
        return "".join(out)
    if not tuples:
        out.append("  <tr>\n" + "".join(f"    <th align=\"center\">{_html(n)}</th>\n" for n in names) + "  </tr>\n")
    for row in rows if names else ():  # (rows of no columns: nothing)
        out.append("  <tr valign=\"top\">\n")
        for value, r in zip(row, right, strict=True):
            out.append(f"    <td align=\"{'right' if r else 'left'}\">{'&nbsp; ' if _blank(value) else _html(value)}</td>\n")
        out.append("  </tr>\n")
    out.append("</table>\n")
    if footer is not None and opts.footer and not tuples:
        out.append("<p>" + "".join(_html(f) + "<br />\n" for f in _each(footer)) + "</p>")
    out.append("\n")
    return "".join(out)


def _frame(border: int) -> str:
    return {0: ',frame="none",grid="none"', 1: ',frame="none"', 2: ',frame="all",grid="all"'}.get(border, "")


def asciidoc(names: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], opts: PrintOptions,
             footer: Footer, expanded: bool, first: int = 1) -> str:
    tuples = opts.tuples_only
    out = ["\n"]
    if not tuples and opts.title is not None:
        out.append(f".{opts.title}\n")
    if expanded:
        out.append('[cols="h,l"' + _frame(opts.border) + "]\n|====\n")
        for k, row in enumerate(rows):
            out.append("2+|\n" if tuples else f"2+^|Record {first + k}\n")
            for name, value, r in zip(names, row, right, strict=True):
                out.append(f"<l|{_asciidoc(name)} {'>l' if r else '<l'}|{' ' if _blank(value) else _asciidoc(value)}\n")
        out.append("|====\n")
        if _custom(footer) and not tuples:
            out.append("\n....\n" + "".join(f + "\n" for f in _each(footer)) + "....\n")
        return "".join(out)
    cols = ",".join(">l" if r else "<l" for r in right)
    header = "" if tuples else 'options="header",'
    out.append(f'[{header}cols="{cols}"' + _frame(opts.border) + "]\n|====\n")
    if not tuples:
        out.append(" ".join("^l|" + _asciidoc(n) for n in names) + "\n")
    n = len(names)
    for row in rows if n else ():
        for j, value in enumerate(row):
            out.append((" " if j else "") + "|")
            if _blank(value):
                if j + 1 < n:
                    out.append(" ")
            else:
                out.append(_asciidoc(value))
        out.append("\n")
    out.append("|====\n")
    if footer is not None and opts.footer and not tuples:
        out.append("\n....\n" + "".join(f + "\n" for f in _each(footer)) + "....\n")
    return "".join(out)


def _latex_title(opts: PrintOptions) -> str:
    if opts.tuples_only or opts.title is None:
        return ""
    return "\\begin{center}\n" + _latex(opts.title) + "\n\\end{center}\n\n"


def _latex_vertical(names: Sequence[str], rows: Sequence[Sequence[str]], opts: PrintOptions, first: int,
                    footer: Footer = None) -> str:
    border = min(opts.border, 2)
    out = [_latex_title(opts), "\\begin{tabular}{" + ("cl", "c|l", "|c|l|")[border] + "}\n"]
    for k, row in enumerate(rows):
        if not opts.tuples_only:
            if border == 2:
                out.append("\\hline\n\\multicolumn{2}{|c|}{\\textit{Record %d}} \\\\\n" % (first + k))
            else:
                out.append("\\multicolumn{2}{c}{\\textit{Record %d}} \\\\\n" % (first + k))
        if border >= 1:
            out.append("\\hline\n")
        for name, value in zip(names, row, strict=True):
            out.append(f"{_latex(name)} & {_latex(value)} \\\\\n")
    if border == 2:
        out.append("\\hline\n")
    out.append("\\end{tabular}\n\n\\noindent ")
    if _custom(footer) and not opts.tuples_only:
        out.append("".join(_latex(f) + " \\\\\n" for f in _each(footer)))
    out.append("\n")
    return "".join(out)


def latex(names: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], opts: PrintOptions,
          footer: Footer, expanded: bool, first: int = 1) -> str:
    if expanded:
        return _latex_vertical(names, rows, opts, first, footer)
    border, tuples, n = min(opts.border, 3), opts.tuples_only, len(names)
    out = [_latex_title(opts), "\\begin{tabular}{" + ("| " if border >= 2 else "")]
    out.append((" | " if border else "").join("r" if r else "l" for r in right))
    out.append((" |" if border >= 2 else "") + "}\n")
    if not tuples and border >= 2:
        out.append("\\hline\n")
    if not tuples:
        out.append(" & ".join("\\textit{" + _latex(x) + "}" for x in names) + " \\\\\n\\hline\n")
    for row in rows if n else ():
        out.append(" & ".join(_latex(v) for v in row) + " \\\\\n" + ("\\hline\n" if border == 3 else ""))
    if border == 2:
        out.append("\\hline\n")
    out.append("\\end{tabular}\n\n\\noindent ")
    if footer is not None and opts.footer and not tuples:
        out.append("".join(_latex(f) + " \\\\\n" for f in _each(footer)))
    out.append("\n")
    return "".join(out)


def latex_longtable(names: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], opts: PrintOptions,
                    footer: Footer, expanded: bool, first: int = 1) -> str:
    if expanded:
        return _latex_vertical(names, rows, opts, first, footer)
    border, tuples = min(opts.border, 3), opts.tuples_only
    out = ["\\begin{longtable}{" + ("| " if border >= 2 else "")]
    widths = (opts.tableattr or "").split()
    used, last = 0, None
    specs = []
    for r in right:
        if not r and opts.tableattr is not None:  # a proportional width for each left-aligned column
            if used < len(widths):
                last = widths[used]
                used += 1
                specs.append("p{" + last + "\\textwidth}")
            elif last is not None:
                specs.append("p{" + last + "\\textwidth}")
            else:
                specs.append("l")
        else:
            specs.append("r" if r else "l")
    out.append((" | " if border else "").join(specs) + (" |" if border >= 2 else "") + "}\n")
    if not tuples:
        head = " & ".join("\\small\\textbf{\\textit{" + _latex(x) + "}}" for x in names) + " \\\\\n"
        out.append(("\\toprule\n" if border >= 2 else "") + head + "\\midrule\n\\endfirsthead\n")
        out.append(("\\toprule\n" if border >= 2 else "") + head + ("\\midrule\n" if border != 3 else "") + "\\endhead\n")
        if opts.title is not None:
            t = _latex(opts.title)
            out.append(("\\bottomrule\n" if border == 2 else "") + f"\\caption[{t} (Continued)]{{{t}}}\n\\endfoot\n")
            out.append(("\\bottomrule\n" if border == 2 else "") + f"\\caption[{t}]{{{t}}}\n\\endlastfoot\n")
        elif border >= 2:
            out.append("\\bottomrule\n\\endfoot\n\\bottomrule\n\\endlastfoot\n")
    for row in rows if names else ():
        out.append("\n&\n".join("\\raggedright{" + _latex(v) + "}" for v in row) + " \\tabularnewline\n"
                   + (" \\hline\n" if border == 3 else ""))
    out.append("\\end{longtable}\n")
    return "".join(out)


def troff_ms(names: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], opts: PrintOptions,
             footer: Footer, expanded: bool, first: int = 1) -> str:
    border, tuples = min(opts.border, 2), opts.tuples_only
    out = []
    if not tuples and opts.title is not None:
        out.append(".LP\n.DS C\n" + _troff(opts.title) + "\n.DE\n")
    out.append(".LP\n.TS\n" + ("center box;\n" if border == 2 else "center;\n"))
    if expanded:
        if tuples:
            out.append("c l;\n")
        current = 0  # 0 none, 1 the record line's format, 2 the values'
        for k, row in enumerate(rows):
            if not tuples:
                if current != 1:
                    if border == 2 and k > 0:
                        out.append("_\n")
                    if current != 0:
                        out.append(".T&\n")
                    out.append("c s.\n")
                    current = 1
                out.append(f"\\fIRecord {first + k}\\fP\n")
            if border >= 1:
                out.append("_\n")
            for name, value in zip(names, row, strict=True):
                if not tuples and current != 2:
                    if current != 0:
                        out.append(".T&\n")
                    out.append("c | l.\n" if border == 1 else "c l.\n")
                    current = 2
                out.append(f"{_troff(name)}\t{_troff(value)}\n")
        out.append(".TE\n.DS L\n")
        if _custom(footer) and not tuples:
            out.append("".join(_troff(f) + "\n" for f in _each(footer)))
        out.append(".DE\n")
        return "".join(out)
    out.append((" | " if border > 0 else "").join("r" if r else "l" for r in right) + ".\n")
    if not tuples:
        out.append("\t".join("\\fI" + _troff(x) + "\\fP" for x in names) + "\n_\n")
    for row in rows if names else ():
        out.append("\t".join(_troff(v) for v in row) + "\n")
    out.append(".TE\n.DS L\n")
    if footer is not None and opts.footer and not tuples:
        out.append("".join(_troff(f) + "\n" for f in _each(footer)))
    out.append(".DE\n")
    return "".join(out)


def tag_line(fmt: str, tag: str) -> str:
    """A command's tag as psql prints it after rows (PrintQueryStatus): in a paragraph in HTML."""
    return f"<p>{_html(tag)}</p>" if fmt == "html" else tag


RENDER: dict[str, Callable[..., str]] = {"html": html, "asciidoc": asciidoc, "latex": latex,
                                         "latex-longtable": latex_longtable, "troff-ms": troff_ms}

