# minify.awk - the demo page as the server sends it: web/index.html with
# its comments and the blanks nothing needs taken out, nothing else changed.
#
#	awk -f web/minify.awk web/index.html > web/index.min.html
#
# The page is read whole and walked a character at a time in one of four
# modes, switched by the tags that open and close them:
#
#	mode	 inside			   what goes
#	html	 the document		   <!-- comments -->; the blanks that
#					   start and end lines; empty lines
#	css	 <style>...</style>	   /* comments */; every newline; the
#					   blanks around { } ; , and after :
#	js	 <script>...</script>	   // and /* comments */; the blanks
#					   that start and end lines; empty
#					   lines; blanks beside punctuation
#					   (see js_needs_blank())
#	raw	 <pre>, <textarea>	   nothing
#
# Quoted strings, template literals (over several lines too) and regular
# expression literals are copied as they are, and so is every blank inside
# a line of the document, where it can be text.  Newlines stay newlines in
# html and js (JavaScript may need them to end a statement), so a line of
# the source is at most one line of the result.  A "/" is a regular
# expression where an operand is due (after an operator, "(", "," or
# "return"), else division: write a regular expression after ")" (as in
# `if (x) /re/.test(s)`) with a name first.  tests/minify.sh checks all of
# this on the hard cases, and that the page's scripts still parse.

BEGIN { src = "" }
{ src = src $0 "\n" }

END {
	n = length(src)
	mode = "html"
	out = ""
	i = 1
	while (i <= n) {
		c = substr(src, i, 1)
		if (mode == "html")
			i = html(i, c)
		else if (mode == "css")
			i = css(i, c)
		else if (mode == "js")
			i = js(i, c)
		else
			i = raw(i)
	}
	printf "%s", out
}

# The source from i on starts with s (any case).
function at(i, s) {
	return tolower(substr(src, i, length(s))) == s
}

function is_blank(c) {
	return c == " " || c == "\t" || c == "\n" || c == "\r"
}

# Skips the blanks from i; sets saw_nl when they hold a newline and
# returns the index after them.
function skip_blanks(i,    c) {
	saw_nl = 0
	for (; i <= n; i++) {
		c = substr(src, i, 1)
		if (!is_blank(c))
			break
		if (c == "\n")
			saw_nl = 1
	}
	return i
}

# Copies a tag from its "<" through its ">" and returns the index after.
function copy_tag(i,    j) {
	j = index(substr(src, i), ">")
	if (j == 0)
		j = n - i + 1
	out = out substr(src, i, j)
	return i + j
}

# Ends the output's line: its trailing blanks go, and an empty line is
# not started.
function end_line() {
	sub(/[ \t]+$/, "", out)
	if (out != "" && substr(out, length(out), 1) != "\n")
		out = out "\n"
}

# A run of blanks in html or js: a newline if it held one, else the run
# unchanged in html or one blank in js (none at the start of a line).
function line_blanks(i, keep,    j) {
	j = skip_blanks(i)
	if (saw_nl)
		end_line()
	else if (substr(out, length(out), 1) != "\n") {
		out = out (keep ? substr(src, i, j - i) : " ")
	}
	return j
}

function html(i, c,    j) {
	if (is_blank(c)) {
		# Blanks before the end of a line go with it.
		j = skip_blanks(i)
		if (saw_nl || j > n)
			return line_blanks(i, 1)
		if (out != "" && substr(out, length(out), 1) != "\n")
			out = out substr(src, i, j - i)
		return j
	}
	if (at(i, "<!--")) {
		j = index(substr(src, i + 4), "-->")
		return j == 0 ? n + 1 : i + 4 + j + 2
	}
	if (at(i, "<script")) {
		mode = "js"
		return copy_tag(i)
	}
	if (at(i, "<style")) {
		mode = "css"
		return copy_tag(i)
	}
	if (at(i, "<pre") || at(i, "<textarea")) {
		mode = "raw"
		raw_end = at(i, "<pre") ? "</pre" : "</textarea"
		return copy_tag(i)
	}
	out = out c
	return i + 1
}

function raw(i,    j) {
	j = index(tolower(substr(src, i)), raw_end)
	if (j == 0)
		j = n - i + 2
	out = out substr(src, i, j - 1)
	mode = "html"
	return i + j - 1
}

# A template literal from its backquote at i through its closing one; a
# ${...} inside it may hold strings and templates of its own.
function template_end(i,    j, d) {
	for (j = i + 1; j <= n; j++) {
		d = substr(src, j, 1)
		if (d == "\\")
			j++
		else if (d == "`")
			return j + 1
		else if (d == "$" && substr(src, j + 1, 1) == "{")
			j = substitution_end(j + 2) - 1
	}
	return n + 1
}

# The index after the "}" that closes a ${ whose expression starts at i.
function substitution_end(i,    j, d, depth) {
	depth = 0
	for (j = i; j <= n; j++) {
		d = substr(src, j, 1)
		if (d == "\"" || d == "'")
			j = string_end(j, d) - 1
		else if (d == "`")
			j = template_end(j) - 1
		else if (d == "{")
			depth++
		else if (d == "}" && depth-- == 0)
			return j + 1
	}
	return n + 1
}

# A quoted string from i (its quote c) through its closing quote; a
# backslash takes the next character with it.
function string_end(i, c,    j, d) {
	for (j = i + 1; j <= n; j++) {
		d = substr(src, j, 1)
		if (d == "\\")
			j++
		else if (d == c)
			return j + 1
	}
	return n + 1
}

function css(i, c,    j, last, next_c) {
	if (at(i, "</style")) {
		mode = "html"
		return copy_tag(i)
	}
	if (at(i, "/*")) {
		j = index(substr(src, i + 2), "*/")
		return j == 0 ? n + 1 : i + 2 + j + 1
	}
	if (c == "\"" || c == "'") {
		j = string_end(i, c)
		out = out substr(src, i, j - i)
		return j
	}
	if (is_blank(c)) {
		j = skip_blanks(i)
		last = substr(out, length(out), 1)
		next_c = substr(src, j, 1)
		if (out != "" && index("{};,:>\n", last) == 0 &&
		    index("{};,", next_c) == 0 && !at(j, "</style") &&
		    !at(j, "/*"))
			out = out " "
		return j
	}
	if (c == "}" && substr(out, length(out), 1) == ";")
		out = substr(out, 1, length(out) - 1)
	out = out c
	return i + 1
}

# Whether a blank between the characters l and r (on one line) keeps
# apart what would otherwise read as one token, or as another: two names,
# keywords or numbers; + + or - -; / / or / * (a comment would start);
# 1 .x; <!-- and --> (old HTML comments).  Between any other characters,
# punctuation on one side, it can go.
function js_needs_blank(l, r,    w) {
	w = "^[A-Za-z0-9_$]$"
	if (l == "" || l == "\n")
		return 0
	return (l ~ w || l > "~") && (r ~ w || r > "~") ||
	    index("+-", l) && l == r || index("/*", l) && index("/*", r) ||
	    l ~ /[0-9]/ && r == "." || l == "<" && r == "!" ||
	    l == "-" && r == ">"
}

# Whether a "/" after the output so far starts a regular expression rather
# than dividing: it does after an operator, a bracket or a keyword, not
# after a name, a number or a closing bracket.
function slash_is_regex(    t, last) {
	t = out
	sub(/[ \t\n]+$/, "", t)
	last = substr(t, length(t), 1)
	if (last == "" || index("(,=:[!&|?{};+-*%<>~^", last))
		return 1
	return t ~ /(^|[^A-Za-z0-9_$])(return|typeof|case|do|else|in|of|void|yield|await|delete|throw|new)$/
}

# A regular expression literal from i through its flags.
function regex_end(i,    j, d, class) {
	class = 0
	for (j = i + 1; j <= n; j++) {
		d = substr(src, j, 1)
		if (d == "\\")
			j++
		else if (d == "[")
			class = 1
		else if (d == "]")
			class = 0
		else if (d == "/" && !class)
			break
		else if (d == "\n")
			return j
	}
	for (j++; j <= n && substr(src, j, 1) ~ /[a-z]/; j++)
		;
	return j
}

function js(i, c,    j) {
	if (at(i, "</script")) {
		mode = "html"
		return copy_tag(i)
	}
	if (is_blank(c)) {
		j = skip_blanks(i)
		if (saw_nl)
			end_line()
		else if (js_needs_blank(substr(out, length(out), 1),
					substr(src, j, 1)))
			out = out " "
		return j
	}
	if (at(i, "//")) {
		j = index(substr(src, i), "\n")
		return j == 0 ? n + 1 : i + j - 1
	}
	if (at(i, "/*")) {
		j = index(substr(src, i + 2), "*/")
		# A comment between two tokens still parts them.
		if (substr(out, length(out), 1) !~ /[ \n]/ && out != "")
			out = out " "
		return j == 0 ? n + 1 : i + 2 + j + 1
	}
	if (c == "\"" || c == "'") {
		j = string_end(i, c)
		out = out substr(src, i, j - i)
		return j
	}
	if (c == "`") {
		j = template_end(i)
		out = out substr(src, i, j - i)
		return j
	}
	if (c == "/" && slash_is_regex()) {
		j = regex_end(i)
		out = out substr(src, i, j - i)
		return j
	}
	out = out c
	return i + 1
}
