package query

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Business tags (team, owner, tier, cost centre, ...) are set by users on services, processes or
// IP ranges and stored one row per change in business_tags (the audit trail); the current tags
// are the latest row of each (kind, subject, key) that is not a removal.

// Kinds of subject a business tag is attached to.
const (
	TagOnService = "service"
	TagOnProcess = "process"
	TagOnIPRange = "ip_range"
)

// MaxTagText bounds a tag's subject and value (characters); MaxBusinessTags the tags listed.
const (
	MaxTagText      = 256
	MaxBusinessTags = 10000
)

var tagKeyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// BusinessTag is one tag on one subject.
type BusinessTag struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Key     string `json:"key"`
	Value   string `json:"value"`
}

// Validate checks a tag as a user sent it, and normalizes an IP range to its network (10.1.2.3/16 →
// 10.1.0.0/16). A removal (removal true) carries no value.
func (t *BusinessTag) Validate(removal bool) error {
	switch t.Kind {
	case TagOnService, TagOnProcess:
	case TagOnIPRange:
		p, err := netip.ParsePrefix(strings.TrimSpace(t.Subject))
		if err != nil {
			return fmt.Errorf("subject %s is not an IP range in CIDR notation (10.1.0.0/16, fd00::/8)", Quote(truncate(t.Subject, 60)))
		}
		t.Subject = p.Masked().String()
	default:
		return fmt.Errorf("kind %s is not one of service, process, ip_range", Quote(truncate(t.Kind, 40)))
	}
	if !tagKeyRe.MatchString(t.Key) {
		return fmt.Errorf("key %s is not a tag key: a lower-case letter, then letters, digits or _, at most 63", Quote(truncate(t.Key, 70)))
	}
	if err := tagText("subject", t.Subject, true); err != nil {
		return err
	}
	if removal {
		t.Value = ""
		return nil
	}
	return tagText("value", t.Value, true)
}

// tagText: non-empty, at most MaxTagText characters, printable (no control characters), no
// leading or trailing space.
func tagText(what, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s is empty", what)
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	if utf8.RuneCountInString(s) > MaxTagText {
		return fmt.Errorf("%s is longer than %d characters", what, MaxTagText)
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("%s %s starts or ends with a space", what, Quote(truncate(s, 60)))
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s holds a control or non-printable character (%U)", what, r)
		}
	}
	return nil
}

// BusinessTagColumns are the columns of a BuildBusinessTags row, in order.
var BusinessTagColumns = []string{"kind", "subject", "key", "value", "updated_at_us", "updated_by", "updated_by_role"}

// BuildBusinessTags renders the current business tags: the latest change of each (kind, subject,
// key) that is not a removal, with who made it and when; at most MaxBusinessTags.
func BuildBusinessTags(database string) (*Statement, error) {
	b, err := newBuilder(database, "business_tags")
	if err != nil {
		return nil, err
	}
	sql := fmt.Sprintf(`SELECT %s AS kind, %s AS subject, %s AS key,
  argMax(%s, %s) AS value, max(%s) AS updated_at_us, argMax(%s, %s) AS updated_by, argMax(%s, %s) AS updated_by_role,
  argMax(%s, %s) AS removed
FROM %s
GROUP BY kind, subject, key
HAVING removed = 0
ORDER BY kind, subject, key
LIMIT %d`,
		b.c("kind"), b.c("subject"), b.c("key"), b.c("value"), b.c("changed_us"), b.c("changed_us"),
		b.c("updated_by"), b.c("changed_us"), b.c("updated_by_role"), b.c("changed_us"), b.c("deleted"), b.c("changed_us"),
		b.from(), MaxBusinessTags+1)
	st := b.statement(sql)
	st.Limit = MaxBusinessTags
	return st, nil
}

// BuildBusinessTagChange renders the INSERT of one change (a set, or a removal) made by user (its
// login and role) at time at. The tag must have been validated; every value is a quoted literal.
func BuildBusinessTagChange(database string, t BusinessTag, removal bool, user, role string, at time.Time) (string, error) {
	db, err := Ident(database)
	if err != nil {
		return "", fmt.Errorf("database name: %w", err)
	}
	if err := tagText("user", user, true); err != nil {
		return "", err
	}
	deleted := 0
	if removal {
		deleted = 1
	}
	return fmt.Sprintf("INSERT INTO %s.business_tags (time, changed_us, kind, subject, key, value, deleted, updated_by, updated_by_role) VALUES (toDateTime(%d), %s, %s, %s, %s, %s, %d, %s, %s)",
		db, at.Unix(), strconv.FormatInt(at.UnixMicro(), 10), Quote(t.Kind), Quote(t.Subject), Quote(t.Key), Quote(t.Value), deleted,
		Quote(user), Quote(role)), nil
}
