// Package deploy holds FreshTrack's deployment files (compose, Caddy,
// Prometheus, Alertmanager, Grafana, systemd, pgBackRest) and no code: its
// tests check those files offline, against the real freshtrack binary and,
// where installed, the real tools that read them (docker-compose, caddy,
// promtool, amtool, systemd-analyze, pgbackrest).
package deploy
