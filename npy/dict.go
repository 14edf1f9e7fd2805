package npy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// literalParser parses the restricted Python literal syntax of .npy
// headers: a dict with string keys whose values are strings, booleans,
// integers or tuples/lists of integers.
type literalParser struct {
	s   string
	pos int
}

func (p *literalParser) skipSpace() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *literalParser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *literalParser) expect(c byte) error {
	if p.peek() != c {
		return p.errorf("expected %q", c)
	}
	p.pos++
	return nil
}

func (p *literalParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

// value parses one literal: string, True, False, None, integer, or a
// tuple/list of integers (returned as []int).
func (p *literalParser) value() (any, error) {
	switch c := p.peek(); {
	case c == '\'' || c == '"':
		return p.str()
	case c == '(' || c == '[':
		return p.intSeq()
	case c == '-' || c >= '0' && c <= '9':
		return p.integer()
	case c >= 'A' && c <= 'Z':
		start := p.pos
		for p.pos < len(p.s) && (p.s[p.pos] >= 'a' && p.s[p.pos] <= 'z' || p.s[p.pos] >= 'A' && p.s[p.pos] <= 'Z') {
			p.pos++
		}
		switch w := p.s[start:p.pos]; w {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		default:
			return nil, p.errorf("unexpected %q", w)
		}
	case c == 0:
		return nil, p.errorf("unexpected end of header")
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

// str parses a quoted string without escape sequences (numpy type strings
// and keys never contain any).
func (p *literalParser) str() (string, error) {
	q := p.s[p.pos]
	end := strings.IndexByte(p.s[p.pos+1:], q)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	s := p.s[p.pos+1 : p.pos+1+end]
	if strings.IndexByte(s, '\\') >= 0 {
		return "", p.errorf("escape sequences are not supported")
	}
	p.pos += end + 2
	return s, nil
}

// integer parses a decimal integer, allowing the Python 2 'L' suffix.
func (p *literalParser) integer() (int, error) {
	start := p.pos
	if p.s[p.pos] == '-' {
		p.pos++
	}
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	n, err := strconv.Atoi(p.s[start:p.pos])
	if err != nil {
		return 0, p.errorf("bad integer %q", p.s[start:p.pos])
	}
	if p.pos < len(p.s) && p.s[p.pos] == 'L' {
		p.pos++
	}
	return n, nil
}

// intSeq parses a tuple or list of integers, with an optional trailing comma.
func (p *literalParser) intSeq() ([]int, error) {
	closer := byte(')')
	if p.s[p.pos] == '[' {
		closer = ']'
	}
	p.pos++
	out := []int{}
	for {
		c := p.peek()
		if c == closer {
			p.pos++
			return out, nil
		}
		if c != '-' && (c < '0' || c > '9') {
			return nil, p.errorf("expected an integer or %q", closer)
		}
		n, err := p.integer()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		switch p.peek() {
		case ',':
			p.pos++
		case closer:
		default:
			return nil, p.errorf("expected ',' or %q", closer)
		}
	}
}

// parseDict parses the header dict into h, requiring exactly the keys
// 'descr', 'fortran_order' and 'shape'.
func parseDict(s string, h *Header) error {
	p := &literalParser{s: s}
	if err := p.expect('{'); err != nil {
		return err
	}
	seen := map[string]bool{}
	for p.peek() != '}' {
		if c := p.peek(); c != '\'' && c != '"' {
			return p.errorf("expected a quoted key")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := p.expect(':'); err != nil {
			return err
		}
		if key == "descr" && (p.peek() == '[' || p.peek() == '(') {
			return errors.New("structured dtypes are not supported")
		}
		v, err := p.value()
		if err != nil {
			return err
		}
		switch key {
		case "descr":
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("'descr' must be a string, got %v", v)
			}
			h.Descr = s
		case "fortran_order":
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("'fortran_order' must be True or False, got %v", v)
			}
			h.FortranOrder = b
		case "shape":
			sh, ok := v.([]int)
			if !ok {
				return fmt.Errorf("'shape' must be a tuple of integers, got %v", v)
			}
			for _, d := range sh {
				if d < 0 {
					return fmt.Errorf("negative dimension in shape %v", sh)
				}
			}
			h.Shape = sh
		default:
			return fmt.Errorf("unexpected key %q", key)
		}
		if p.peek() == ',' {
			p.pos++
		} else if p.peek() != '}' {
			return p.errorf("expected ',' or '}'")
		}
	}
	p.pos++
	if p.peek() != 0 {
		return p.errorf("trailing data after the dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return fmt.Errorf("missing key %q", k)
		}
	}
	return nil
}
