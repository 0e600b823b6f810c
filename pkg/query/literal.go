// Package query turns FlowLens query JSON into ClickHouse SQL. Every user value becomes a
// quoted string literal or a validated identifier or number; nothing is pasted raw.
package query

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxValueLen bounds one filter value; longer values are rejected, not truncated.
const MaxValueLen = 1024

// MaxValues bounds how many values one multi-value filter may carry.
const MaxValues = 200

// MaxFilterBytes bounds the quoted filter values of one query, so its SQL stays well under
// ClickHouse's max_query_size (256 KiB by default; a readonly=1 user cannot raise it).
const MaxFilterBytes = 64 << 10

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Quote renders s as a ClickHouse single-quoted string literal. ClickHouse reads backslash
// escapes inside literals, so backslash and quote are both escaped, and control characters are
// written as escapes so the SQL stays one readable line.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Ident validates name as a plain identifier and returns it back-quoted.
func Ident(name string) (string, error) {
	if !identRe.MatchString(name) {
		return "", fmt.Errorf("%q is not a valid identifier (letters, digits and _ only, at most 64)", name)
	}
	return "`" + name + "`", nil
}

// checkValue rejects values no legitimate filter carries.
func checkValue(field, v string) error {
	if len(v) > MaxValueLen {
		return fmt.Errorf("filter %s: value is %d bytes long, the limit is %d", field, len(v), MaxValueLen)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("filter %s: value is not valid UTF-8", field)
	}
	return nil
}
