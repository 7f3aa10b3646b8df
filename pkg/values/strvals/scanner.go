package strvals

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ParseError is a --set line that could not be parsed. Msg is Helm's own
// message; Pos tells where in Input parsing stopped.
type ParseError struct {
	// Input is the whole line being parsed.
	Input string
	// Pos is the 1-based character position at which parsing stopped: the
	// characters before it had been read when the problem was found. It is
	// one past the last character when the whole line had been read.
	Pos int
	// Msg is the message Helm gives for the same input.
	Msg string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s at position %d in %q", e.Msg, e.Pos, e.Input)
}

// scanner reads a line rune by rune, as Helm's parsers read a bytes.Buffer:
// an invalid UTF-8 byte reads as one utf8.RuneError.
type scanner struct {
	input string
	off   int // byte offset of the next unread rune
	size  int // width of the last rune read, for unreadRune
}

func (s *scanner) readRune() (rune, error) {
	if s.off >= len(s.input) {
		s.size = 0
		return 0, io.EOF
	}
	r, size := utf8.DecodeRuneInString(s.input[s.off:])
	s.off += size
	s.size = size
	return r, nil
}

// unreadRune steps back over the rune just read.
func (s *scanner) unreadRune() {
	s.off -= s.size
	s.size = 0
}

// rest returns the unread part of the line.
func (s *scanner) rest() string { return s.input[s.off:] }

// skip consumes n bytes.
func (s *scanner) skip(n int) {
	s.off = min(s.off+max(n, 0), len(s.input))
	s.size = 0
}

// error turns the error that stopped a parser into a *ParseError.
func (s *scanner) error(err error) *ParseError {
	off := s.off
	var oe *offsetError
	if errors.As(err, &oe) {
		off = min(max(oe.off, 0), len(s.input))
	}
	return &ParseError{Input: s.input, Pos: utf8.RuneCountInString(s.input[:off]) + 1, Msg: err.Error()}
}

// offsetError is an error found at a byte offset other than the scanner's
// (inside a JSON value).
type offsetError struct {
	off int
	err error
}

func (e *offsetError) Error() string { return e.err.Error() }
func (e *offsetError) Unwrap() error { return e.err }

// runesUntil reads up to the first unescaped rune of stop, which it consumes
// and returns. A backslash escapes the rune after it. At the end of the line
// it returns what it read with io.EOF.
func runesUntil(s *scanner, stop string) ([]rune, rune, error) {
	v := []rune{}
	for {
		r, err := s.readRune()
		switch {
		case err != nil:
			return v, r, err
		case strings.ContainsRune(stop, r):
			return v, r, nil
		case r == '\\':
			next, err := s.readRune()
			if err != nil {
				return v, next, err
			}
			v = append(v, next)
		default:
			v = append(v, r)
		}
	}
}

// runesUntilLiteral is runesUntil without escapes, for --set-literal.
func runesUntilLiteral(s *scanner, stop string) ([]rune, rune, error) {
	v := []rune{}
	for {
		r, err := s.readRune()
		switch {
		case err != nil:
			return v, r, err
		case strings.ContainsRune(stop, r):
			return v, r, nil
		default:
			v = append(v, r)
		}
	}
}
