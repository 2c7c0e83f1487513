package schema

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

var migrationName = regexp.MustCompile(`^([0-9]+)_(.+)\.(up|down)\.sql$`)

// modeFS presents the shared migrations plus those of one storage mode as a
// single flat directory, which is what golang-migrate reads. Shared files live
// in migrations/, mode-specific ones in migrations/<mode>/ with the same
// version numbers in every mode.
type modeFS struct {
	mode Mode
}

func (m modeFS) Open(name string) (fs.File, error) {
	if name == "." {
		return migrationFiles.Open("migrations")
	}
	if f, err := migrationFiles.Open(path.Join("migrations", string(m.mode), name)); err == nil {
		return f, nil
	}
	return migrationFiles.Open(path.Join("migrations", name))
}

func (m modeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	shared, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	own, err := fs.ReadDir(migrationFiles, path.Join("migrations", string(m.mode)))
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for _, e := range append(shared, own...) {
		if !e.IsDir() {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return cmpString(a.Name(), b.Name()) })
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// LatestVersion is the highest migration version this binary carries.
func LatestVersion() uint {
	v := Versions()
	return v[len(v)-1]
}

// Versions lists the migration versions this binary carries, oldest first;
// every storage mode has the same (CheckModeVersions). Numbers need not be
// contiguous: a version held by work on another branch is skipped.
func Versions() []uint {
	v, _ := migrationVersions(Postgres)
	return v
}

// migrationVersions lists the up-migration versions visible in a mode.
func migrationVersions(mode Mode) ([]uint, error) {
	entries, err := modeFS{mode: mode}.ReadDir(".")
	if err != nil {
		return nil, err
	}
	var out []uint
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q does not match NNNN_name.up|down.sql", e.Name())
		}
		if m[3] != "up" {
			continue
		}
		v, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil {
			return nil, err
		}
		out = append(out, uint(v))
	}
	return out, nil
}

// Status is the state of a database's schema.
type Status struct {
	// Mode is the storage mode recorded by migrations ("" before any).
	Mode Mode `json:"storage"`
	// Version is the applied FreshTrack migration version (0 before any).
	Version uint `json:"schema_version"`
	// Latest is the newest version this binary carries.
	Latest uint `json:"schema_latest"`
	// Dirty is set when a migration failed half-way.
	Dirty bool `json:"dirty"`
	// RiverVersion and RiverLatest are the same for River's tables.
	RiverVersion int `json:"river_version"`
	RiverLatest  int `json:"river_latest"`
	// MigratedAt is when the storage mode was set up.
	MigratedAt time.Time `json:"migrated_at,omitzero"`
	// FailingJobs counts TimescaleDB background jobs (policies) whose last
	// run failed; always 0 in postgres mode.
	FailingJobs int `json:"failing_jobs"`
	// JobErrors names each of those jobs with its last error.
	JobErrors []FailingJob `json:"job_errors,omitempty"`
}

// Current reports whether the schema is exactly what this binary expects.
func (s Status) Current() bool {
	return !s.Dirty && s.Version >= s.Latest && s.RiverVersion >= s.RiverLatest
}

// Fingerprint is a short hash of the migrations of a mode, FreshTrack's and
// River's, so caches of migrated databases (test templates) can tell when
// they are stale.
func Fingerprint(mode Mode) string {
	h := sha256.New()
	entries, _ := modeFS{mode: mode}.ReadDir(".")
	for _, e := range entries {
		b, _ := fs.ReadFile(modeFS{mode: mode}, e.Name())
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
		h.Write(b)
	}
	if rm, err := rivermigrate.New(riverpgxv5.New(nil), nil); err == nil {
		for _, m := range rm.AllVersions() {
			fmt.Fprintf(h, "river %d %s\n", m.Version, m.SQLUp)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// CheckModeVersions reports an error when the modes' migration sets differ in
// their version numbers, which would make a database's history depend on its mode.
func CheckModeVersions() error {
	pg, err := migrationVersions(Postgres)
	if err != nil {
		return err
	}
	ts, err := migrationVersions(Timescale)
	if err != nil {
		return err
	}
	if !slices.Equal(pg, ts) {
		return fmt.Errorf("postgres mode has migrations %v but timescale mode has %v", pg, ts)
	}
	return nil
}
