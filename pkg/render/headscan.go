package render

import (
	"strconv"
	"strings"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
)

// scanHead reads a document's head without parsing it as YAML, when the
// document is written in the plain block style that templates produce and
// that controller-gen writes for CRDs: block mappings and sequences
// indented with spaces, one key or entry per line, plain scalars (wrapped
// over several lines too), quoted scalars, `|`/`>` block scalars, `{}`
// and `[]`. It returns false for anything else (flow collections, anchors,
// tags, tabs, explicit keys, document markers, escapes it cannot check,
// head fields that are not plainly strings, keys and scalars that JSON
// cannot hold...), and parseHead then takes the YAML parser's path.
//
// The contract is one-way: when scanHead returns true, h is what Helm's
// yaml.Unmarshal(doc, &SimpleHead{}) gives and that call does not fail.
// TestScanHeadCorpus checks it on every document of the corpus's golden
// output, TestScanHeadMutations on 20,000 damaged ones, and FuzzParseHead
// on what the fuzzer finds.
//
// Why: Helm parses every rendered document whole to read four fields. For
// CRD charts (prometheus-operator-crds: 4.5 MB of templates) that parse was
// about half of a render's CPU time; this scan reads each byte once.
func scanHead(doc string, h *SimpleHead) bool {
	if !printableDoc(doc) {
		return false
	}
	s := headScanner{doc: doc, h: h, stack: make([]headFrame, 0, 16), plainCont: -1}
	return s.run()
}

// headRole says which part of the head a mapping is.
type headRole uint8

const (
	roleOther       headRole = iota
	roleTop                  // the document: apiVersion, kind, metadata
	roleMetadata             // metadata: name, annotations
	roleAnnotations          // metadata.annotations: string values
)

// headField is the head field a value fills, if any.
type headField uint8

const (
	fieldNone        headField = iota
	fieldAPIVersion            // top-level apiVersion
	fieldKind                  // top-level kind
	fieldMetadata              // top-level metadata
	fieldName                  // metadata.name
	fieldAnnotations           // metadata.annotations
	fieldAnnotation            // one annotation's value
)

// headFrame is an open block collection.
type headFrame struct {
	indent int
	seq    bool
	role   headRole
	// sameIndent marks a sequence at the indentation of the key that owns
	// it ("key:\n- a"): the next line at that indentation that is not an
	// entry closes it.
	sameIndent bool
	// seen has a bit per head field already set in this mapping: a second
	// one takes the YAML parser's path.
	seen uint8
}

// headScanner is the state of one scan.
type headScanner struct {
	doc   string
	h     *SimpleHead
	stack []headFrame

	// pending is a key or entry whose value was not on its line: the next
	// content line may open the value's collection, else it is null.
	pending        bool
	pendIndent     int       // indentation of the collection that owns it
	pendField      headField // the head field it fills
	pendAnnotation string    // the annotation's key, for fieldAnnotation

	// plainCont is, after a plain scalar that is not a head field, the
	// indentation its next lines must be deeper than to continue it; -1
	// otherwise.
	plainCont int
}

// run scans the document line by line.
func (s *headScanner) run() bool {
	for pos := 0; pos < len(s.doc); {
		line, next := lineAt(s.doc, pos)
		sp := countSpaces(line)
		if sp == len(line) {
			pos = next // blank: folded into a plain scalar, if one goes on
			continue
		}
		if line[sp] == '#' {
			s.plainCont = -1 // a comment ends a plain scalar
			pos = next
			continue
		}
		if strings.IndexByte(line, '\t') >= 0 {
			return false
		}
		if s.plainCont >= 0 && sp > s.plainCont {
			// A plain scalar's next line (controller-gen wraps long
			// descriptions so): anything but what would end it.
			if !plainContinuation(line[sp:]) {
				return false
			}
			pos = next
			continue
		}
		s.plainCont = -1
		var ok bool
		if pos, ok = s.line(line, sp, next); !ok {
			return false
		}
	}
	return s.resolvePending()
}

// line handles one content line with sp spaces of indentation; next is
// where the following line starts. It returns where scanning goes on
// (past a block scalar's lines).
func (s *headScanner) line(line string, sp, next int) (int, bool) {
	if s.pending && sp > s.pendIndent && valueLine(line[sp:]) {
		// The pending value on a line of its own: "key:\n  {}" or
		// "key:\n  text".
		s.pending = false
		return s.value(line[sp:], s.pendIndent, s.pendField, s.pendAnnotation, next)
	}
	dash := line[sp] == '-' && (sp+1 == len(line) || line[sp+1] == ' ')
	if len(s.stack) == 0 {
		if sp != 0 || dash {
			return 0, false // a top level that is not a mapping at column 0
		}
		s.stack = append(s.stack, headFrame{role: roleTop})
	} else if !s.open(sp, dash) {
		return 0, false
	}
	top := &s.stack[len(s.stack)-1]
	if !dash {
		if top.seq {
			return 0, false
		}
		return s.entry(top, line, sp, next)
	}
	if !top.seq {
		return 0, false
	}
	// A sequence entry: "-", "- value" or "- key: value" (a mapping that
	// starts on the entry's line, at the column of its first key).
	col := sp + 1
	for col < len(line) && line[col] == ' ' {
		col++
	}
	if col == len(line) || line[col] == '#' {
		s.setPending(sp, fieldNone, "")
		return next, true
	}
	if _, _, ok := parseHeadKey(line, col); ok {
		s.stack = append(s.stack, headFrame{indent: col})
		return s.entry(&s.stack[len(s.stack)-1], line, col, next)
	}
	return s.value(line[col:], sp, fieldNone, "", next)
}

// open settles the indentation of a content line: it opens the pending
// value's collection, or closes the collections the line is left of, and
// checks that the line belongs to the innermost one left open.
func (s *headScanner) open(sp int, dash bool) bool {
	top := &s.stack[len(s.stack)-1]
	if s.pending {
		s.pending = false
		switch {
		case sp > s.pendIndent:
			return s.push(sp, dash, false)
		case sp == s.pendIndent && dash && !top.seq:
			return s.push(sp, true, true)
		}
		s.setNull()
	}
	for len(s.stack) > 0 {
		top = &s.stack[len(s.stack)-1]
		if top.indent > sp || top.sameIndent && top.indent == sp && !dash {
			s.stack = s.stack[:len(s.stack)-1]
			continue
		}
		break
	}
	return len(s.stack) > 0 && s.stack[len(s.stack)-1].indent == sp
}

// push opens the pending value's collection at indentation sp.
func (s *headScanner) push(sp int, seq, sameIndent bool) bool {
	f := headFrame{indent: sp, seq: seq, sameIndent: sameIndent}
	switch s.pendField {
	case fieldNone:
	case fieldMetadata:
		if seq {
			return false
		}
		s.h.Metadata = &HeadMetadata{}
		f.role = roleMetadata
	case fieldAnnotations:
		if seq {
			return false
		}
		s.h.Metadata.Annotations = map[string]string{}
		f.role = roleAnnotations
	default:
		return false // a collection where the head wants a string
	}
	s.stack = append(s.stack, f)
	return true
}

// resolvePending ends the document: a pending value is null.
func (s *headScanner) resolvePending() bool {
	if !s.pending {
		return true
	}
	s.pending = false
	s.setNull()
	return true
}

// setNull gives the pending value null: "" for strings, nil for metadata
// and annotations (as JSON null decodes).
func (s *headScanner) setNull() {
	if s.pendField == fieldAnnotation {
		s.h.Metadata.Annotations[s.pendAnnotation] = ""
	}
}

func (s *headScanner) setPending(indent int, field headField, annotation string) {
	s.pending, s.pendIndent, s.pendField, s.pendAnnotation = true, indent, field, annotation
}

// entry handles "key: value" at column col of mapping f.
func (s *headScanner) entry(f *headFrame, line string, col, next int) (int, bool) {
	key, rest, ok := parseHeadKey(line, col)
	if !ok {
		return 0, false
	}
	field, annotation := fieldNone, ""
	switch f.role {
	case roleTop, roleMetadata:
		if field, ok = headFieldOf(f, key); !ok {
			return 0, false
		}
	case roleAnnotations:
		if !key.isString() {
			return 0, false
		}
		field, annotation = fieldAnnotation, key.text
	default:
		if !key.jsonKey() {
			return 0, false
		}
	}
	for rest < len(line) && line[rest] == ' ' {
		rest++
	}
	if rest == len(line) || line[rest] == '#' {
		s.setPending(f.indent, field, annotation)
		return next, true
	}
	return s.value(line[rest:], f.indent, field, annotation, next)
}

// headFieldOf is the head field a key of the top or metadata mapping
// names. A key that matches a field only when case is ignored (JSON
// decoding ignores it), or a field set twice, is for the YAML parser.
func headFieldOf(f *headFrame, key headScalar) (headField, bool) {
	names := [...]string{"apiVersion", "kind", "metadata"}
	fields := [...]headField{fieldAPIVersion, fieldKind, fieldMetadata}
	if f.role == roleMetadata {
		names = [...]string{"name", "annotations", ""}
		fields = [...]headField{fieldName, fieldAnnotations, fieldNone}
	}
	if !key.quoted && !key.isString() {
		return fieldNone, key.jsonKey() && !foldsToAny(key.text, names[:])
	}
	for i, n := range names {
		switch {
		case n == "":
		case key.text == n:
			if f.seen&(1<<i) != 0 {
				return fieldNone, false
			}
			f.seen |= 1 << i
			return fields[i], true
		case strings.EqualFold(key.text, n):
			return fieldNone, false
		}
	}
	return fieldNone, isASCII(key.text)
}

func foldsToAny(key string, names []string) bool {
	for _, n := range names {
		if n != "" && strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// value handles a value on the line of its key or dash. parent is the
// indentation of the collection it belongs to.
func (s *headScanner) value(v string, parent int, field headField, annotation string, next int) (int, bool) {
	switch v[0] {
	case '|', '>':
		if field != fieldNone || !blockHeader(v) {
			return 0, false
		}
		return skipBlockScalar(s.doc, next, parent+1)
	case '[', '{':
		if !emptyFlow(v) {
			return 0, false
		}
		switch {
		case field == fieldNone:
		case v[0] == '{' && field == fieldMetadata:
			s.h.Metadata = &HeadMetadata{}
		case v[0] == '{' && field == fieldAnnotations:
			s.h.Metadata.Annotations = map[string]string{}
		default:
			return 0, false
		}
		return next, true
	}
	if (v[0] == '\'' || v[0] == '"') && field == fieldNone {
		return s.skipQuoted(v, next)
	}
	sc, ok := parseHeadValue(v)
	if !ok || !sc.jsonValue() {
		return 0, false
	}
	switch field {
	case fieldNone:
		if !sc.quoted {
			s.plainCont = parent
		}
		return next, true
	case fieldMetadata, fieldAnnotations:
		return 0, false
	}
	text, ok := sc.headString()
	if !ok {
		return 0, false
	}
	switch field {
	case fieldAPIVersion:
		s.h.Version = text
	case fieldKind:
		s.h.Kind = text
	case fieldName:
		s.h.Metadata.Name = text
	case fieldAnnotation:
		s.h.Metadata.Annotations[annotation] = text
	}
	return next, true
}

// headScalar is a one-line scalar: its text (quotes removed) and whether
// it was quoted.
type headScalar struct {
	text   string
	quoted bool
}

// yaml11Words are the plain scalars that YAML 1.1 (go.yaml.in/yaml/v2's
// resolver) reads as booleans, null, infinities, NaN or the merge key.
var yaml11Words = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"": true, "~": true, "null": true, "Null": true, "NULL": true,
	".nan": true, ".NaN": true, ".NAN": true, ".inf": true, ".Inf": true, ".INF": true,
	"+.inf": true, "+.Inf": true, "+.INF": true, "-.inf": true, "-.Inf": true, "-.INF": true,
	"<<": true,
}

// isString tells whether a plain scalar is certainly a string: it starts
// with a letter or an underscore (YAML 1.1 then resolves it by the word
// table alone) and is not one of the table's words.
func (sc headScalar) isString() bool {
	if sc.quoted {
		return true
	}
	if sc.text == "" {
		return false
	}
	c := sc.text[0]
	return (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') && !yaml11Words[sc.text]
}

// headString is what a string field of the head gets from the scalar.
// Plain scalars that do not start with a letter (versions like 0.80.0,
// numbers, dates) are resolved by the YAML parser itself, as a value, and
// converted as parseHead's other path does; they are few per document.
func (sc headScalar) headString() (string, bool) {
	if sc.isString() {
		return sc.text, true
	}
	var m map[string]any
	if err := yamlv2.Unmarshal([]byte("v: "+sc.text), &m); err != nil || len(m) != 1 {
		return "", false
	}
	return headString(m["v"])
}

// jsonValue tells whether sigs.k8s.io/yaml converts the scalar to JSON:
// all but infinities and NaN do.
func (sc headScalar) jsonValue() bool {
	return sc.quoted || !yaml11Words[sc.text] || !floatWord(sc.text)
}

// jsonKey tells whether the scalar, as a mapping key, converts to a JSON
// object key: not null, not an infinity or NaN, not a merge key, and not
// a number big enough to be read as uint64.
func (sc headScalar) jsonKey() bool {
	if sc.quoted {
		return true
	}
	if yaml11Words[sc.text] {
		return !floatWord(sc.text) && !nullWord(sc.text) && sc.text != "<<"
	}
	c := sc.text[0]
	return !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') || len(sc.text) <= 15
}

func floatWord(w string) bool {
	return strings.Contains(w, "inf") || strings.Contains(w, "Inf") || strings.Contains(w, "INF") ||
		strings.Contains(w, "nan") || strings.Contains(w, "NaN") || strings.Contains(w, "NAN")
}

func nullWord(w string) bool { return w == "" || w == "~" || w == "null" || w == "Null" || w == "NULL" }

// parseHeadKey reads "key:" at col: a plain key of letters, digits and
// `_ $ / . -` (not starting with `-`), or a one-line quoted key of
// printable ASCII without escapes, then a colon followed by a space or the
// end of the line. rest is the column after the colon.
func parseHeadKey(line string, col int) (key headScalar, rest int, ok bool) {
	end := col
	switch c := line[col]; {
	case c == '"' || c == '\'':
		var n int
		key, n, ok = parseQuoted(line[col:])
		if !ok || !isASCII(key.text) {
			return key, 0, false
		}
		end = col + n
	case keyStart(c):
		for end < len(line) && keyByte(line[end]) {
			end++
		}
		key = headScalar{text: line[col:end]}
	default:
		return key, 0, false
	}
	// YAML 1.1 limits an implicit key to 1024 characters.
	if end-col > 1000 || end >= len(line) || line[end] != ':' || end+1 < len(line) && line[end+1] != ' ' {
		return key, 0, false
	}
	return key, end + 1, true
}

func keyStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '/' || c == '.'
}

func keyByte(c byte) bool { return keyStart(c) || c == '-' }

// parseHeadValue reads a scalar that fills the rest of a line: one-line
// quoted, or plain with nothing YAML would read as structure (": ", " #",
// a trailing colon) and not starting with an indicator.
func parseHeadValue(v string) (headScalar, bool) {
	if v[0] == '"' || v[0] == '\'' {
		sc, n, ok := parseQuoted(v)
		if !ok {
			return sc, false
		}
		rest := strings.TrimLeft(v[n:], " ")
		return sc, rest == "" || rest[0] == '#' && len(rest) < len(v[n:])
	}
	switch v[0] {
	case '&', '*', '!', '%', '@', '`', ',', ']', '}', '?', ':', '#':
		return headScalar{}, false
	case '-':
		if len(v) == 1 || v[1] == ' ' {
			return headScalar{}, false
		}
	}
	v = strings.TrimRight(v, " ")
	if strings.Contains(v, ": ") || strings.Contains(v, " #") || v[len(v)-1] == ':' {
		return headScalar{}, false
	}
	return headScalar{text: v}, true
}

// parseQuoted reads a quoted scalar that closes on its line: single-quoted
// with ” for a quote, or double-quoted without backslashes. n is its
// length with the quotes.
func parseQuoted(v string) (sc headScalar, n int, ok bool) {
	q := v[0]
	if q == '"' {
		end := strings.IndexByte(v[1:], '"')
		if end < 0 || strings.IndexByte(v[1:1+end], '\\') >= 0 {
			return sc, 0, false
		}
		return headScalar{text: v[1 : 1+end], quoted: true}, end + 2, true
	}
	for i := 1; i < len(v); i++ {
		if v[i] != '\'' {
			continue
		}
		if i+1 < len(v) && v[i+1] == '\'' {
			i++ // '' is a quote
			continue
		}
		return headScalar{text: strings.ReplaceAll(v[1:i], "''", "'"), quoted: true}, i + 1, true
	}
	return sc, 0, false
}

// skipQuoted skips a quoted scalar that starts v, the rest of a line that
// ends where next starts; it may go on over the following lines. YAML
// folds its line breaks and does not check their indentation; it only
// refuses a document marker at the start of one. Escapes in double quotes
// are checked, not decoded: the value is not a head field. It returns
// where the line after the closing quote starts.
func (s *headScanner) skipQuoted(v string, next int) (int, bool) {
	lineEnd := next
	if next > 0 && s.doc[next-1] == '\n' {
		lineEnd--
	}
	q := v[0]
	for i := lineEnd - len(v) + 1; i < len(s.doc); i++ {
		switch c := s.doc[i]; {
		case c == '\n':
			if rest := s.doc[i+1:]; strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "...") {
				return 0, false
			}
		case c == '\t':
			return 0, false
		case c == '\\' && q == '"':
			n, ok := escapeLen(s.doc[i+1:])
			if !ok {
				return 0, false
			}
			i += n
		case c == q && q == '\'' && i+1 < len(s.doc) && s.doc[i+1] == '\'':
			i++ // '' is a quote
		case c == q:
			line, after := lineAt(s.doc, i+1)
			rest := strings.TrimLeft(line, " ")
			if rest != "" && (rest[0] != '#' || len(rest) == len(line)) {
				return 0, false
			}
			return after, true
		}
	}
	return 0, false
}

// escapeLen is the length of the escape sequence after a backslash in a
// double-quoted scalar, if YAML 1.1 (go.yaml.in/yaml/v2) accepts it and
// this scan takes it (an escaped line break takes the parser's path).
func escapeLen(e string) (int, bool) {
	if e == "" {
		return 0, false
	}
	digits := 0
	switch e[0] {
	case '0', 'a', 'b', 't', 'n', 'v', 'f', 'r', 'e', ' ', '"', '\'', '\\', 'N', '_', 'L', 'P':
		return 1, true
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	default:
		return 0, false
	}
	if len(e) < 1+digits {
		return 0, false
	}
	v, err := strconv.ParseUint(e[1:1+digits], 16, 32)
	if err != nil || v >= 0xD800 && v <= 0xDFFF || v > 0x10FFFF {
		return 0, false
	}
	return 1 + digits, true
}

// valueLine tells whether a line under a key with no value on its line
// is that value as a scalar or an empty collection (not a key, an entry
// or a block scalar).
func valueLine(v string) bool {
	if emptyFlow(v) {
		return true
	}
	if v[0] == '|' || v[0] == '>' || v[0] == '-' && (len(v) == 1 || v[1] == ' ') {
		return false
	}
	_, _, isKey := parseHeadKey(v, 0)
	return !isKey
}

// plainContinuation tells whether a line, from its first non-space,
// continues a plain scalar to its end: no comment, and no ": " or
// trailing colon, which would end the scalar and start a mapping value.
func plainContinuation(v string) bool {
	return !strings.Contains(v, ": ") && !strings.Contains(v, " #") && v[len(v)-1] != ':'
}

// blockHeader tells whether v is a block scalar header this scan takes:
// `|` or `>`, an optional chomping indicator, then nothing or a comment.
func blockHeader(v string) bool {
	i := 1
	if i < len(v) && (v[i] == '-' || v[i] == '+') {
		i++
	}
	rest := strings.TrimLeft(v[i:], " ")
	return rest == "" || rest[0] == '#' && len(rest) < len(v[i:])
}

// emptyFlow tells whether v is `{}` or `[]`, then nothing or a comment.
func emptyFlow(v string) bool {
	if len(v) < 2 || v[:2] != "{}" && v[:2] != "[]" {
		return false
	}
	rest := strings.TrimLeft(v[2:], " ")
	return rest == "" || rest[0] == '#' && len(rest) < len(v[2:])
}

// skipBlockScalar skips the content of a block scalar whose lines start at
// pos, as YAML 1.1 reads it: its indentation is that of its first
// non-blank line, at least minIndent, and it ends before the first
// non-blank line indented less. It returns where that line starts. Blank
// lines with spaces before the first content line, and tabs where
// indentation is read, take the parser's path.
func skipBlockScalar(doc string, pos, minIndent int) (int, bool) {
	indent := 0
	for pos < len(doc) {
		line, next := lineAt(doc, pos)
		sp := countSpaces(line)
		if sp == len(line) {
			if indent == 0 && sp > 0 {
				return 0, false
			}
			pos = next
			continue
		}
		if indent == 0 {
			if line[sp] == '\t' {
				return 0, false
			}
			if sp < minIndent {
				return pos, true
			}
			indent = sp
		} else if sp < indent {
			if line[sp] == '\t' {
				return 0, false
			}
			return pos, true
		}
		pos = next
	}
	return pos, true
}

// lineAt is the line starting at pos, without its newline, and where the
// next one starts.
func lineAt(doc string, pos int) (string, int) {
	if nl := strings.IndexByte(doc[pos:], '\n'); nl >= 0 {
		return doc[pos : pos+nl], pos + nl + 1
	}
	return doc[pos:], len(doc)
}

func countSpaces(line string) int {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	return i
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// printableDoc tells whether every character of doc is one the YAML reader
// accepts and this scan can take: printable ASCII, newline, tab, and
// valid UTF-8 in #xA0–#xD7FF, #xE000–#xFFFD and #x10000–#x10FFFF, without
// the byte order mark or the Unicode line and paragraph separators (YAML
// 1.1 line breaks). Carriage returns take the parser's path.
func printableDoc(doc string) bool {
	for i := 0; i < len(doc); {
		c := doc[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(doc[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return false
		case r < 0xA0, r == 0xFEFF, r == 0x2028, r == 0x2029:
			return false
		case r > 0xD7FF && r < 0xE000, r > 0xFFFD && r < 0x10000:
			return false
		}
		i += n
	}
	return true
}
