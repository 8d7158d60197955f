package gitlabapi

import "strings"

// parseNextLink returns the target of the rel="next" entry of an RFC 8288
// Link header. Entries may come in any order, separated by commas; rel may
// be quoted or not, hold several space-separated types, and sit among other
// parameters. URLs may themselves contain commas and semicolons, so the
// header is scanned rather than split.
func parseNextLink(h string) (string, bool) {
	i := 0
	for i < len(h) {
		// Skip to the next entry.
		for i < len(h) && (h[i] == ' ' || h[i] == '\t' || h[i] == ',') {
			i++
		}
		if i >= len(h) {
			break
		}
		if h[i] != '<' {
			i = skipEntry(h, i)
			continue
		}
		end := strings.IndexByte(h[i+1:], '>')
		if end < 0 {
			return "", false
		}
		target := h[i+1 : i+1+end]
		i += end + 2
		isNext := false
		// Parameters: ;name=value or ;name="value" until the next comma
		// outside quotes.
		for i < len(h) && h[i] != ',' {
			if h[i] != ';' {
				i++
				continue
			}
			i++
			name, value, next := parseParam(h, i)
			i = next
			if strings.EqualFold(name, "rel") {
				for _, r := range strings.Fields(value) {
					if strings.EqualFold(r, "next") {
						isNext = true
					}
				}
			}
		}
		// '<' cannot occur in a URL; such a target is a broken entry.
		if isNext && strings.TrimSpace(target) != "" && !strings.Contains(target, "<") {
			return strings.TrimSpace(target), true
		}
	}
	return "", false
}

// parseParam reads one link parameter starting at i (just after ';') and
// returns its name, unquoted value and the index after it.
func parseParam(h string, i int) (name, value string, next int) {
	start := i
	for i < len(h) && h[i] != '=' && h[i] != ';' && h[i] != ',' {
		i++
	}
	name = strings.TrimSpace(h[start:i])
	if i >= len(h) || h[i] != '=' {
		return name, "", i
	}
	i++
	for i < len(h) && (h[i] == ' ' || h[i] == '\t') {
		i++
	}
	if i < len(h) && h[i] == '"' {
		var b strings.Builder
		i++
		for i < len(h) && h[i] != '"' {
			if h[i] == '\\' && i+1 < len(h) {
				i++
			}
			b.WriteByte(h[i])
			i++
		}
		if i < len(h) {
			i++ // closing quote
		}
		return name, b.String(), i
	}
	start = i
	for i < len(h) && h[i] != ';' && h[i] != ',' {
		i++
	}
	return name, strings.TrimSpace(h[start:i]), i
}

// skipEntry moves past a malformed entry to the next comma outside quotes.
func skipEntry(h string, i int) int {
	inQuote := false
	for ; i < len(h); i++ {
		switch h[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case ',':
			if !inQuote {
				return i + 1
			}
		}
	}
	return i
}
