package deploy

import (
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of compose.yaml the tests look at.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]any    `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []secretRef       `yaml:"secrets"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	StopGracePeriod string `yaml:"stop_grace_period"`
	Deploy          struct {
		Resources struct {
			Limits struct {
				CPUs   string `yaml:"cpus"`
				Memory string `yaml:"memory"`
			} `yaml:"limits"`
		} `yaml:"resources"`
	} `yaml:"deploy"`
}

// secretRef is a service's secret, in the short form (a name) or the long
// one (source and target).
type secretRef struct {
	Source, Target string
}

func (s *secretRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Source, s.Target = n.Value, n.Value
		return nil
	}
	var long struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	s.Source, s.Target = long.Source, cmpOr(long.Target, long.Source)
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal([]byte(readFile(t, "compose.yaml")), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	return c
}

// freshtrackServices are the services that run the freshtrack binary.
func freshtrackServices(c composeFile) map[string]composeService {
	out := map[string]composeService{}
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "freshtrack/freshtrack:") {
			out[name] = s
		}
	}
	return out
}

// pinnedImage is name:tag or name@digest, where a tag is a version (not
// latest) or a required variable (${VAR:?...}).
var pinnedImage = regexp.MustCompile(`^[a-z0-9./-]+(:([A-Za-z0-9._-]+|\$\{[A-Z_]+:\?[^}]*\}))?(@sha256:[0-9a-f]{64})?$`)

func checkPinned(t *testing.T, where, image string) {
	t.Helper()
	m := pinnedImage.FindStringSubmatch(image)
	switch {
	case m == nil:
		t.Errorf("%s: image %q is not name:tag or name@sha256:digest", where, image)
	case m[1] == "" && m[3] == "":
		t.Errorf("%s: image %q has neither tag nor digest: it means latest", where, image)
	case m[2] == "latest":
		t.Errorf("%s: image %q is :latest", where, image)
	}
}

func TestComposeServicesArePinnedLimitedAndChecked(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for _, name := range []string{"db", "pgbouncer", "redis", "caddy", "prometheus", "alertmanager", "grafana", "backup"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no %s service", name)
		}
	}
	for name, s := range c.Services {
		if s.Image == "" {
			t.Errorf("%s: no image: every service names a pinned image, built ones too", name)
		} else {
			checkPinned(t, name, s.Image)
		}
		if s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) < 2 {
			t.Errorf("%s: no health check", name)
		}
		if l := s.Deploy.Resources.Limits; l.CPUs == "" || l.Memory == "" {
			t.Errorf("%s: deploy.resources.limits needs cpus and memory, has %+v", name, l)
		}
	}
	// Images built here start from pinned ones too.
	for _, dockerfile := range []string{"Dockerfile", "timescaledb/Dockerfile"} {
		for _, line := range strings.Split(readFile(t, dockerfile), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
				checkPinned(t, dockerfile, f[1])
			}
		}
	}
	if !strings.Contains(readFile(t, "timescaledb/Dockerfile"), "FROM timescale/timescaledb:2.28.3-pg17\n") {
		t.Error("timescaledb/Dockerfile: the database is timescale/timescaledb:2.28.3-pg17 (README.md says why)")
	}
}

func TestComposeSecretsExistAndStayOutOfGit(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	used := map[string]bool{}
	for name, s := range c.Services {
		for _, ref := range s.Secrets {
			used[ref.Source] = true
			if _, ok := c.Secrets[ref.Source]; !ok {
				t.Errorf("%s: secret %q is not defined under secrets:", name, ref.Source)
			}
		}
		// A file a service reads from /run/secrets must be mounted there.
		for _, v := range s.Environment {
			if p, ok := strings.CutPrefix(v, "/run/secrets/"); ok && !slices.ContainsFunc(s.Secrets, func(r secretRef) bool { return r.Target == p }) {
				t.Errorf("%s: reads /run/secrets/%s but has no such secret", name, p)
			}
		}
	}
	for name, def := range c.Secrets {
		if !used[name] {
			t.Errorf("secret %q is defined but no service uses it", name)
		}
		if !strings.HasPrefix(def.File, "./secrets/") {
			t.Errorf("secret %q: file %q is not under ./secrets/, which git ignores", name, def.File)
		}
	}
	// Credentials are secrets, not values in the file.
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if strings.Contains(k, "PASSWORD") && !strings.HasSuffix(k, "_FILE") || strings.Contains(k, "SECRET") || strings.HasSuffix(k, "_KEY") && !strings.HasSuffix(k, "PUBLIC_KEY") {
				t.Errorf("%s: %s=%q in the environment; credentials are Docker secrets", name, k, v)
			}
			if u, err := url.Parse(v); err == nil && u.User != nil {
				if _, has := u.User.Password(); has {
					t.Errorf("%s: %s carries a password in its URL; PGPASSWORD comes from a secret", name, k)
				}
			}
		}
	}
}

func TestComposeMountsExist(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s: bind mount %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %q is not declared under volumes:", name, src)
			}
		}
	}
	for _, f := range []string{"../deploy/Dockerfile", "timescaledb/init-freshtrack.sh", "backup/pgbackrest.conf", "backup/backup.sh", "secrets-env.sh"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a file the images copy: %v", err)
		}
	}
}

// TestComposeFreshTrackServices checks the instances against the binary:
// every FRESHTRACK_* variable (in the environment or as a secret's target)
// is one serve reads, they cover every role between them, Caddy and
// Prometheus reach each of them, and Docker waits longer than the drain.
func TestComposeFreshTrackServices(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	ft := freshtrackServices(c)
	if len(ft) < 2 {
		t.Fatalf("want two or more freshtrack instances, have %d", len(ft))
	}
	known := serveVariables(t)
	used := map[string]string{}
	roles := map[string]bool{}
	var upstreams []string
	for name, s := range ft {
		for k := range s.Environment {
			used[k] = name + " environment"
		}
		for _, ref := range s.Secrets {
			used[ref.Target] = name + " secret " + ref.Source
		}
		i := slices.Index(s.Command, "--role")
		if len(s.Command) == 0 || s.Command[0] != "serve" || i < 0 || i+1 >= len(s.Command) {
			t.Errorf("%s: command %q is not serve --role ...", name, s.Command)
		} else {
			for _, r := range strings.Split(s.Command[i+1], ",") {
				roles[r] = true
			}
		}
		_, port, ok := strings.Cut(s.Environment["FRESHTRACK_ADDR"], ":")
		if !ok {
			t.Errorf("%s: FRESHTRACK_ADDR %q has no port", name, s.Environment["FRESHTRACK_ADDR"])
		}
		upstreams = append(upstreams, name+":"+port)

		grace, err := time.ParseDuration(s.StopGracePeriod)
		drain, err2 := time.ParseDuration(s.Environment["FRESHTRACK_SHUTDOWN_TIMEOUT"])
		delay, err3 := time.ParseDuration(s.Environment["FRESHTRACK_SHUTDOWN_DELAY"])
		if err != nil || err2 != nil || err3 != nil || grace <= delay+drain {
			t.Errorf("%s: stop_grace_period %q must exceed FRESHTRACK_SHUTDOWN_DELAY %q + FRESHTRACK_SHUTDOWN_TIMEOUT %q, or Docker kills the drain",
				name, s.StopGracePeriod, s.Environment["FRESHTRACK_SHUTDOWN_DELAY"], s.Environment["FRESHTRACK_SHUTDOWN_TIMEOUT"])
		}
		// Caddy checks /readyz every second with a 2 s timeout: the
		// instance must keep serving until Caddy has seen its 503.
		if delay <= 3*time.Second {
			t.Errorf("%s: FRESHTRACK_SHUTDOWN_DELAY %q must exceed Caddy's health_interval + health_timeout (3s)", name, s.Environment["FRESHTRACK_SHUTDOWN_DELAY"])
		}
		if !strings.Contains(s.Environment["DATABASE_URL"], "@pgbouncer:") {
			t.Errorf("%s: DATABASE_URL does not go through PgBouncer", name)
		}
		if !strings.Contains(s.Environment["FRESHTRACK_DATABASE_DIRECT_URL"], "@db:") {
			t.Errorf("%s: FRESHTRACK_DATABASE_DIRECT_URL does not go straight to the database", name)
		}
	}
	for k := range used {
		if !strings.HasPrefix(k, "FRESHTRACK_") && k != "DATABASE_URL" && k != "REDIS_URL" && k != "PGPASSWORD" {
			delete(used, k)
		}
	}
	checkVariables(t, known, used)
	for _, r := range []string{"api", "ingest", "worker"} {
		if !roles[r] {
			t.Errorf("no instance runs the %s role", r)
		}
	}
	slices.Sort(upstreams)

	caddyUpstreams := strings.Fields(c.Services["caddy"].Environment["FRESHTRACK_UPSTREAMS"])
	slices.Sort(caddyUpstreams)
	if !slices.Equal(caddyUpstreams, upstreams) {
		t.Errorf("caddy's FRESHTRACK_UPSTREAMS %q, want every instance %q", caddyUpstreams, upstreams)
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/prometheus.yml")), &prom); err != nil {
		t.Fatal(err)
	}
	var scraped []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName == "freshtrack" {
			for _, s := range sc.StaticConfigs {
				scraped = append(scraped, s.Targets...)
			}
		}
	}
	slices.Sort(scraped)
	if !slices.Equal(scraped, upstreams) {
		t.Errorf("prometheus.yml's freshtrack job scrapes %q, want every instance %q", scraped, upstreams)
	}
}

// TestComposeSchema validates compose.yaml with docker-compose's own
// validator (Debian's docker-compose 1.29 checks it against the compose
// specification's JSON schema it ships, and resolves the variables), which
// needs no Docker daemon.
func TestComposeSchema(t *testing.T) {
	t.Parallel()
	dc := requireTool(t, "docker-compose", "TEST_COMPOSE_REQUIRED", "apt-get install docker-compose")
	env := []string{"FRESHTRACK_VERSION=test", "FRESHTRACK_SITE=freshtrack.example.com", "FRESHTRACK_ACME_EMAIL=ops@example.com"}
	out := run(t, env, dc, "--project-directory", ".", "-f", "compose.yaml", "config")
	// Every ${VAR:?...} was given above: a variable compose would still ask
	// for is a new one the runbook must mention.
	if strings.Contains(out, "${") {
		t.Errorf("docker-compose config left a variable unresolved:\n%s", out)
	}
	// And without a required variable compose refuses to start.
	cmd := exec.Command(dc, "-f", "compose.yaml", "config", "-q")
	cmd.Env = append(cleanEnv("FRESHTRACK_VERSION"), env[1:]...)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("docker-compose config passed without FRESHTRACK_VERSION: the images would have no tag\n%s", out)
	}
}

// cleanEnv is the environment without the named variables.
func cleanEnv(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return env
}

func TestGitignoreKeepsLocalFilesOut(t *testing.T) {
	t.Parallel()
	ignore := "\n" + readFile(t, ".gitignore")
	for _, want := range []string{"/secrets/", "/.env"} {
		if !strings.Contains(ignore, "\n"+want+"\n") {
			t.Errorf(".gitignore: no %s line", want)
		}
	}
}
