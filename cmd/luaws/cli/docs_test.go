package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docsDir is the repository's docs folder, seen from this package.
const docsDir = "../../../docs"

// readDoc returns the text of docs/name.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(docsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// commandFlags lists the flags of a luaws command as its -h prints them.
func commandFlags(t *testing.T, command string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	Main(t.Context(), []string{command, "-h"}, &stdout, &stderr)
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(stderr.String(), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 {
		t.Fatalf("luaws %s -h listed no flags:\n%s", command, stderr.String())
	}
	return flags
}

// TestDocsFlags checks that the references name every flag of every
// command, so that a new flag cannot go undocumented.
func TestDocsFlags(t *testing.T) {
	tests := []struct {
		command, doc string
	}{
		{"serve", "config.md"},
		{"bench", "performance.md"},
		{"test", "config.md"},
		{"types", "config.md"},
	}
	for _, tt := range tests {
		doc := readDoc(t, tt.doc)
		for _, f := range commandFlags(t, tt.command) {
			if f == "h" || f == "help" {
				continue
			}
			if !strings.Contains(doc, "`--"+f) && !strings.Contains(doc, ", `--"+f) && !strings.Contains(doc, " --"+f) {
				t.Errorf("docs/%s does not document luaws %s --%s", tt.doc, tt.command, f)
			}
		}
	}
}

// TestDocsTOMLKeys checks that the configuration reference names every
// luaws.toml key the decoder knows.
func TestDocsTOMLKeys(t *testing.T) {
	doc := readDoc(t, "config.md") + readDoc(t, "operations.md")
	tables := map[string][]string{
		"top level":       topKeys,
		"[[mount]]":       mountKeys,
		"[tls]":           tlsKeys,
		"[broker]":        brokerKeys,
		"max_connections": maxConnKeys,
		"[[proxy]]":       proxyKeys,
	}
	for table, keys := range tables {
		for _, k := range slices.Sorted(slices.Values(keys)) {
			if !regexp.MustCompile(`(?m)(^\s*#?\s*|[\x60 ({,.\[])` + regexp.QuoteMeta(k) + `\b`).MatchString(doc) {
				t.Errorf("docs/config.md does not document the %s key %s", table, k)
			}
		}
	}
}
