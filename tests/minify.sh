#!/usr/bin/env bash
# minify.sh - web/minify.awk, which makes the page the server sends from
# web/index.html: a table of hard cases, each a small document and the
# exact bytes it must become; then the real page, whose scripts must still
# parse (node --check) and which must come out smaller.
set -u
cd "$(dirname "$0")/.."

# case NAME INPUT EXPECTED
case_() {
	local name=$1 got
	got=$(printf '%s' "$2" | awk -f web/minify.awk; echo x)
	got=${got%x}
	if [ "$got" = "$3" ]; then
		echo "pass minify-$name"
	else
		echo "FAIL minify-$name: got $(printf '%q' "$got")," \
			"expected $(printf '%q' "$3")"
	fi
}

# The document: indentation, empty lines and comments go; blanks inside
# a line are text and stay; <pre> and <textarea> are copied whole.
case_ html-lines $'<p>\n   <b>x</b>  y\t\n\n\n</p>\n' $'<p>\n<b>x</b>  y\n</p>\n'
case_ html-comment $'<!-- a\n note -->\n<p>a<!-- b --></p>\n' $'<p>a</p>\n'
case_ html-pre $'<div>\n  <pre>\n  a  \n\n b</pre>\n</div>\n' \
	$'<div>\n<pre>\n  a  \n\n b</pre>\n</div>\n'
case_ html-textarea $'<TEXTAREA>\n  x\n</TEXTAREA>\n  y\n' $'<TEXTAREA>\n  x\n</TEXTAREA>\ny\n'
case_ html-no-newline $'  <p>a</p>  ' $'<p>a</p>\n'

# Style sheets: one line, no comments, no blank that a rule can do
# without; a descendant combinator before a pseudo-class keeps its blank,
# and strings are copied.
case_ css-rules $'<style>\n  a { color: red; }\n  /* c */\n  b :hover, i > j { content: "x ; y" }\n</style>\n' \
	$'<style>a{color:red}b :hover,i >j{content:"x ; y"}</style>\n'
case_ css-media $'<style>\n@media (max-width: 40em) {\n  p { margin: 0 calc(1em + 2px); }\n}\n</style>\n' \
	$'<style>@media (max-width:40em){p{margin:0 calc(1em + 2px)}}</style>\n'

# Scripts: comments and the blanks punctuation does not need go; strings,
# templates and regular expressions are copied whole; newlines stay.
case_ js-comments $'<script>\n  x = 1;   // a "quote\n  /* a\n  block */ y = 2;\n</script>\n' \
	$'<script>\nx=1;\ny=2;\n</script>\n'
case_ js-strings $'<script>\nu = "http://a/*b*/" + \'it\\\'s // \';\n</script>\n' \
	$'<script>\nu="http://a/*b*/"+\'it\\\'s // \';\n</script>\n'
case_ js-regex $'<script>\nr = /\\/\\/"\'[/]/g.test(s) / 2; // end\nif (x) return /a b/;\n</script>\n' \
	$'<script>\nr=/\\/\\/"\'[/]/g.test(s)/2;\nif(x)return/a b/;\n</script>\n'
case_ js-template $'<script>\nt = `a\n    ${ f("`", `}`) }  // b`; // c\n</script>\n' \
	$'<script>\nt=`a\n    ${ f("`", `}`) }  // b`;\n</script>\n'
case_ js-tokens $'<script>\na = b + +c - -d, e = f++ + g;\nif (x) return y;\nn = 1 .toString(); i-- > 0;\nq = a / /b/.source * 2;\n</script>\n' \
	$'<script>\na=b+ +c- -d,e=f++ +g;\nif(x)return y;\nn=1 .toString();i-- >0;\nq=a/ /b/.source*2;\n</script>\n'
case_ js-asi $'<script>\nlet a = b\n(c)\nreturn/* x */y\n</script>\n' \
	$'<script>\nlet a=b\n(c)\nreturn y\n</script>\n'
case_ js-async $'<script>\nb.onclick = async () => { await f(); };\n</script>\n' \
	$'<script>\nb.onclick=async()=>{await f();};\n</script>\n'

# The real page.
min=$(mktemp)
trap 'rm -f "$min" "$min".*.js' EXIT
awk -f web/minify.awk web/index.html >"$min"
old=$(stat -c %s web/index.html) new=$(stat -c %s "$min")
if [ "$new" -lt "$old" ]; then
	echo "pass minify-page-smaller: $old to $new bytes"
else
	echo "FAIL minify-page-smaller: $old to $new bytes"
fi
if ! command -v node >/dev/null; then
	echo "skip minify-page-scripts: node is not installed"
else
	# Each <script> element's text, alone, must still parse.
	awk -v base="$min" '
		{ src = src $0 "\n" }
		END {
			while ((i = index(src, "<script")) > 0) {
				src = substr(src, i)
				src = substr(src, index(src, ">") + 1)
				printf "%s", substr(src, 1, index(src, "</script>") - 1) \
					> (base "." ++k ".js")
			}
		}' "$min"
	count=0 bad=
	for js in "$min".*.js; do
		[ -e "$js" ] || break
		count=$((count + 1))
		if ! err=$(node --check "$js" 2>&1); then
			bad="script $count: $(printf '%s\n' "$err" | head -5)"
		fi
	done
	if [ -n "$bad" ]; then
		echo "FAIL minify-page-scripts: $bad"
	elif [ $count -eq 0 ]; then
		echo "FAIL minify-page-scripts: the page has no <script>"
	else
		echo "pass minify-page-scripts: $count parse"
	fi
fi
