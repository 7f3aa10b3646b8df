// Package strvals parses the --set family of flags exactly as Helm v4 does
// (helm.sh/helm/v4/pkg/strvals): --set, --set-string, --set-file, --set-json
// and --set-literal.
//
// A line is a comma-separated list of assignments:
//
//	name=value,outer.inner=value,list[0]=a,list[1].name=b,tags={x,y}
//
// which is the same as the YAML document
//
//	name: value
//	outer:
//	  inner: value
//	list:
//	- a
//	- name: b
//	tags: [x, y]
//
// A backslash escapes the next character (\, \. \= \[ \\). Unless the string
// form is asked for, values are typed as Helm types them: true and false
// (any case) are booleans, null (any case) is nil — which later deletes the key
// when values are coalesced — and decimal integers are int64, except that
// numbers with a leading zero ("007") stay strings. Everything else is a
// string.
//
// The parsers keep Helm's quirks on purpose, because charts are rendered with
// the values they produce: a key without "=" at the very end of the line
// ("a=1,b") is an error, but "a[0" or "a[0]" silently set nothing or an empty
// list; setting a path through a value of another type ("a=1,a.b=2") fails
// with Helm's "unable to parse key: interface conversion: ..." message.
//
// Errors are *ParseError values: Helm's message, followed by the position in
// the line where parsing stopped.
//
// Bounds. As in Helm, a list index may not exceed MaxIndex and a dotted name
// may not nest deeper than MaxNestedNameLevel. Helm has no bound on nested list
// indexes ("a[0][0][0]...") or on names chained through them ("a[0].a[0]...");
// here those are bounded by MaxDepth so that no input can exhaust the stack.
// None of the parsers panics on any input.
package strvals
