package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestDemoPrintsAWorkingDevTokenLine runs the demo as make run does and
// pastes its "more tokens" line into a shell that has none of the demo's
// environment: the line names the binary as it was started and everything
// dev-token needs, and it mints a token.
func TestDemoPrintsAWorkingDevTokenLine(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDBURL(t)
	dir := t.TempDir()
	// Started by a relative path, as make run starts ./bin/freshtrack.
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(freshtrackBinary(t), filepath.Join(dir, "bin", "freshtrack")); err != nil {
		t.Fatal(err)
	}
	demo := exec.Command("./bin/freshtrack", "demo", "--dev-tokens", "--target", "http://127.0.0.1:18099")
	demo.Dir = dir
	demo.Env = append(os.Environ(), "DATABASE_URL="+url)
	out, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	var line string
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "more tokens") && i+1 < len(lines) {
			line = strings.TrimSpace(lines[i+1])
		}
	}
	if !strings.HasPrefix(line, "./bin/freshtrack dev-token ") || !strings.Contains(line, "--addr 127.0.0.1:18099") {
		t.Fatalf("demo printed the dev-token line %q, want ./bin/freshtrack dev-token ... --addr 127.0.0.1:18099\n%s", line, out)
	}
	paste := exec.Command("bash", "-c", line)
	paste.Dir = dir
	paste.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if strings.Contains(string(out), "with DATABASE_URL set") {
		// The test database's URL has a password, which the demo does not
		// print.
		paste.Env = append(paste.Env, "DATABASE_URL="+url)
	}
	tok, err := paste.CombinedOutput()
	if err != nil || strings.Count(strings.TrimSpace(string(tok)), ".") != 2 {
		t.Fatalf("pasting %q: %v\n%s", line, err, tok)
	}
}
