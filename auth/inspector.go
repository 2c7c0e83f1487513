package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Inspector link secrets: "fti_" + 32 base32 characters (160 random bits),
// the alphabet of API keys. The marker lets the API tell an inspector's
// credential from an access token without a database round trip.
const (
	InspectorMarker    = "fti_"
	inspectorSecretLen = 32
	inspectorTokenLen  = len(InspectorMarker) + inspectorSecretLen
	// inspectorPrefixLen is how much of the secret a listing shows.
	inspectorPrefixLen = 6
	// MaxInspectorLinkDays bounds how long a link may stay valid.
	MaxInspectorLinkDays = 90
	maxInspectorSites    = 100
)

// Errors of [AuthenticateInspector]; each says what the inspector can do.
var (
	ErrInspectorUnknown = errors.New("this inspector link is not valid; ask the organisation for a new one")
	ErrInspectorExpired = errors.New("this inspector link has expired; ask the organisation for a new one")
	ErrInspectorRevoked = errors.New("this inspector link was revoked; ask the organisation for a new one")
)

// IsInspectorToken reports whether a bearer credential has the shape of an
// inspector link's secret.
func IsInspectorToken(tok string) bool {
	if len(tok) != inspectorTokenLen || !strings.HasPrefix(tok, InspectorMarker) {
		return false
	}
	for i := len(InspectorMarker); i < len(tok); i++ {
		if !keyChar[tok[i]] {
			return false
		}
	}
	return true
}

// InspectorSite is a site an inspector link covers.
type InspectorSite struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
}

// InspectorLink is an inspector link's record; the secret is never stored.
type InspectorLink struct {
	ID     string `json:"id"`
	OrgID  string `json:"-"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Sites are the sites the link reads, in the order they were given.
	Sites []InspectorSite `json:"sites"`
	// PeriodFrom and PeriodTo are the first and last day (YYYY-MM-DD, each
	// site's local days) the link may see; nil: unbounded.
	PeriodFrom *string    `json:"period_from"`
	PeriodTo   *string    `json:"period_to"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedBy  *string    `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Token is the secret, only in the answer that created the link.
	Token string `json:"token,omitempty"`
}

// SiteIDs are the ids of the link's sites.
func (l *InspectorLink) SiteIDs() []string {
	ids := make([]string, len(l.Sites))
	for i, s := range l.Sites {
		ids[i] = s.ID
	}
	return ids
}

// Covers reports whether the link reads site.
func (l *InspectorLink) Covers(site string) bool {
	return slices.ContainsFunc(l.Sites, func(s InspectorSite) bool { return s.ID == site })
}

// Window is the link's period as instants in a time zone: from local
// midnight of PeriodFrom to local midnight after PeriodTo. A zero bound is
// unbounded.
func (l *InspectorLink) Window(loc *time.Location) (from, to time.Time) {
	if l.PeriodFrom != nil {
		d, _ := time.Parse(time.DateOnly, *l.PeriodFrom)
		from = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	}
	if l.PeriodTo != nil {
		d, _ := time.Parse(time.DateOnly, *l.PeriodTo)
		to = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
	}
	return from, to
}

// CreateInspectorLinkParams are the inputs of [CreateInspectorLink].
type CreateInspectorLinkParams struct {
	OrgID string
	// Name says who the link is for; 1 to 200 characters.
	Name string
	// SiteIDs are sites of the organisation, 1 to 100.
	SiteIDs []string
	// PeriodFrom and PeriodTo are optional dates (YYYY-MM-DD).
	PeriodFrom, PeriodTo string
	// ExpiresAt is required: in the future and at most
	// [MaxInspectorLinkDays] ahead.
	ExpiresAt time.Time
	// CreatedBy is the creating user's id, if any.
	CreatedBy *string
	// Actor is recorded in the audit log. Defaults to "system".
	Actor string
}

func (p *CreateInspectorLinkParams) validate(now time.Time) (name string, from, to *string, err error) {
	if name, err = cleanName("name", p.Name); err != nil {
		return "", nil, nil, err
	}
	switch {
	case len(p.SiteIDs) == 0:
		return "", nil, nil, &ValidationError{Field: "site_ids", Reason: "must name at least one site"}
	case len(p.SiteIDs) > maxInspectorSites:
		return "", nil, nil, &ValidationError{Field: "site_ids", Reason: fmt.Sprintf("at most %d sites", maxInspectorSites)}
	}
	for _, s := range p.SiteIDs {
		if !uuids.Valid(s) {
			return "", nil, nil, &ValidationError{Field: "site_ids", Reason: fmt.Sprintf("%q is not a site id (UUID)", s)}
		}
	}
	day := func(field, s string) (*string, time.Time, error) {
		if s == "" {
			return nil, time.Time{}, nil
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, time.Time{}, &ValidationError{Field: field, Reason: "must be a date such as 2026-03-01"}
		}
		return &s, d, nil
	}
	from, fd, err := day("period_from", p.PeriodFrom)
	if err != nil {
		return "", nil, nil, err
	}
	to, td, err := day("period_to", p.PeriodTo)
	if err != nil {
		return "", nil, nil, err
	}
	if from != nil && to != nil && td.Before(fd) {
		return "", nil, nil, &ValidationError{Field: "period_to", Reason: "must not be before period_from"}
	}
	switch {
	case p.ExpiresAt.IsZero():
		return "", nil, nil, &ValidationError{Field: "expires_at", Reason: "is required"}
	case !p.ExpiresAt.After(now):
		return "", nil, nil, &ValidationError{Field: "expires_at", Reason: "must be in the future"}
	case p.ExpiresAt.After(now.Add(MaxInspectorLinkDays * 24 * time.Hour)):
		return "", nil, nil, &ValidationError{Field: "expires_at", Reason: fmt.Sprintf("must be at most %d days ahead", MaxInspectorLinkDays)}
	}
	if p.CreatedBy != nil && !uuids.Valid(*p.CreatedBy) {
		return "", nil, nil, &ValidationError{Field: "created_by", Reason: "must be a user id (UUID)"}
	}
	return name, from, to, nil
}

// inspectorSelect reads a link with its sites' names, in the order given.
const inspectorSelect = `
	SELECT l.id, l.org_id, l.name, l.prefix,
	       coalesce((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name, 'timezone', s.timezone) ORDER BY x.n)
	                   FROM unnest(l.site_ids) WITH ORDINALITY AS x(id, n) JOIN sites s ON s.id = x.id), '[]'),
	       to_char(l.period_from, 'YYYY-MM-DD'), to_char(l.period_to, 'YYYY-MM-DD'),
	       l.expires_at, l.revoked_at, l.created_by, l.created_at, l.last_used_at
	  FROM inspector_links l`

func scanInspectorLink(row pgx.Row) (InspectorLink, error) {
	var l InspectorLink
	err := row.Scan(&l.ID, &l.OrgID, &l.Name, &l.Prefix, &l.Sites, &l.PeriodFrom, &l.PeriodTo,
		&l.ExpiresAt, &l.RevokedAt, &l.CreatedBy, &l.CreatedAt, &l.LastUsedAt)
	return l, err
}

// CreateInspectorLink creates a link of an organisation that has not been
// deleted ([ErrNotFound] otherwise) with its audit row, in one statement.
// Every site must be one of the organisation's (a *ValidationError naming
// site_ids otherwise). The secret is in the answer's Token only.
func CreateInspectorLink(ctx context.Context, db database.Querier, p CreateInspectorLinkParams) (InspectorLink, error) {
	if !uuids.Valid(p.OrgID) {
		return InspectorLink{}, ErrNotFound
	}
	name, from, to, err := p.validate(time.Now())
	if err != nil {
		return InspectorLink{}, err
	}
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return InspectorLink{}, fmt.Errorf("create inspector link: read random: %w", err)
	}
	token := InspectorMarker + keyEncoding.EncodeToString(raw[:])
	hash := sha256.Sum256([]byte(token))
	sites := make([]string, 0, len(p.SiteIDs))
	for _, s := range p.SiteIDs {
		if !slices.Contains(sites, s) {
			sites = append(sites, s)
		}
	}
	var orgExists bool
	var known int
	var id *string
	err = db.QueryRow(ctx, `
		WITH o AS (
			SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL
		), s AS (
			SELECT count(*) AS n FROM sites WHERE org_id = $1 AND id = ANY($4::uuid[])
		), l AS (
			INSERT INTO inspector_links (org_id, name, prefix, token_hash, site_ids, period_from, period_to, expires_at, created_by)
			SELECT o.id, $2, $3, $5, $4::uuid[], $6::date, $7::date, $8, $9 FROM o, s WHERE s.n = cardinality($4::uuid[])
			RETURNING id, org_id, name, site_ids, period_from, period_to, expires_at
		), a AS (
			INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
			SELECT org_id, $10, 'inspector_link.create', 'inspector_link', id::text,
			       jsonb_build_object('name', name, 'site_ids', site_ids, 'period_from', period_from, 'period_to', period_to, 'expires_at', expires_at)
			  FROM l
		)
		SELECT EXISTS (SELECT 1 FROM o), (SELECT n FROM s), (SELECT id::text FROM l)`,
		p.OrgID, name, token[len(InspectorMarker):len(InspectorMarker)+inspectorPrefixLen], sites, hash[:], from, to, p.ExpiresAt, p.CreatedBy, actorOr(p.Actor),
	).Scan(&orgExists, &known, &id)
	switch code, constraint := pgCode(err); {
	case code == "23503" && constraint == "inspector_links_created_by_fkey":
		return InspectorLink{}, &ValidationError{Field: "created_by", Reason: "no such user"}
	case code == "23503":
		return InspectorLink{}, ErrNotFound
	case err != nil:
		return InspectorLink{}, fmt.Errorf("create inspector link: %w", err)
	case !orgExists:
		return InspectorLink{}, ErrNotFound
	case id == nil:
		return InspectorLink{}, &ValidationError{Field: "site_ids", Reason: "every site must be one of this organisation's sites"}
	}
	l, err := GetInspectorLink(ctx, db, p.OrgID, *id)
	if err != nil {
		return InspectorLink{}, err
	}
	l.Token = token
	return l, nil
}

// GetInspectorLink returns a link of an organisation, or [ErrNotFound].
func GetInspectorLink(ctx context.Context, db database.Querier, orgID, id string) (InspectorLink, error) {
	if !uuids.Valid(orgID) || !uuids.Valid(id) {
		return InspectorLink{}, ErrNotFound
	}
	l, err := scanInspectorLink(db.QueryRow(ctx, inspectorSelect+` WHERE l.org_id = $1 AND l.id = $2`, orgID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return InspectorLink{}, ErrNotFound
	}
	if err != nil {
		return InspectorLink{}, fmt.Errorf("get inspector link: %w", err)
	}
	return l, nil
}

// ListInspectorLinks returns an organisation's links, revoked and expired
// ones included, newest first.
func ListInspectorLinks(ctx context.Context, db database.Querier, orgID string) ([]InspectorLink, error) {
	if !uuids.Valid(orgID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, inspectorSelect+` WHERE l.org_id = $1 ORDER BY l.created_at DESC, l.id DESC`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list inspector links: %w", err)
	}
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InspectorLink, error) { return scanInspectorLink(r) })
	if err != nil {
		return nil, fmt.Errorf("list inspector links: %w", err)
	}
	if links == nil {
		links = []InspectorLink{}
	}
	return links, nil
}

// RevokeInspectorLink revokes a link with its audit row; the next request
// with it is refused, since [AuthenticateInspector] reads the database
// every time. Revoking a revoked link is a no-op; [ErrNotFound] for a link
// the organisation does not have.
func RevokeInspectorLink(ctx context.Context, db database.Querier, orgID, id, actor string) error {
	if !uuids.Valid(orgID) || !uuids.Valid(id) {
		return ErrNotFound
	}
	var exists bool
	err := db.QueryRow(ctx, `
		WITH u AS (
			UPDATE inspector_links SET revoked_at = now()
			 WHERE id = $2 AND org_id = $1 AND revoked_at IS NULL
			RETURNING id, org_id, name
		), a AS (
			INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
			SELECT org_id, $3, 'inspector_link.revoke', 'inspector_link', id::text, jsonb_build_object('name', name) FROM u
		)
		SELECT EXISTS (SELECT 1 FROM inspector_links WHERE id = $2 AND org_id = $1)`, orgID, id, actorOr(actor)).Scan(&exists)
	if err != nil {
		return fmt.Errorf("revoke inspector link: %w", err)
	}
	if !exists {
		return ErrNotFound
	}
	return nil
}

// AuthenticateInspector returns the link a secret belongs to, if it is
// neither expired nor revoked and its organisation exists; otherwise
// [ErrInspectorUnknown], [ErrInspectorExpired] or [ErrInspectorRevoked].
// There is no cache, so revocation takes effect on the next request. It
// notes the use in last_used_at at most once a minute.
func AuthenticateInspector(ctx context.Context, db database.Querier, token string) (InspectorLink, error) {
	if !IsInspectorToken(token) {
		return InspectorLink{}, ErrInspectorUnknown
	}
	hash := sha256.Sum256([]byte(token))
	l, err := scanInspectorLink(db.QueryRow(ctx, inspectorSelect+`
		JOIN organizations o ON o.id = l.org_id AND o.deleted_at IS NULL
		WHERE l.token_hash = $1`, hash[:]))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return InspectorLink{}, ErrInspectorUnknown
	case err != nil:
		return InspectorLink{}, fmt.Errorf("authenticate inspector link: %w", err)
	case l.RevokedAt != nil:
		return InspectorLink{}, ErrInspectorRevoked
	case !time.Now().Before(l.ExpiresAt):
		return InspectorLink{}, ErrInspectorExpired
	}
	if l.LastUsedAt == nil || time.Since(*l.LastUsedAt) > time.Minute {
		if _, err := db.Exec(ctx, `UPDATE inspector_links SET last_used_at = now() WHERE id = $1`, l.ID); err != nil {
			return InspectorLink{}, fmt.Errorf("authenticate inspector link: %w", err)
		}
	}
	return l, nil
}

// InspectorActor is the audit-log actor of a link's requests.
func InspectorActor(linkID string) string { return "inspector:" + linkID }

// RecordInspectorView appends the audit row of one view by an inspector:
// what was read (method, path and query).
func RecordInspectorView(ctx context.Context, db database.Querier, l *InspectorLink, what map[string]any) error {
	return WriteAudit(ctx, db, AuditEntry{OrgID: l.OrgID, Actor: InspectorActor(l.ID), Action: "inspector.view",
		TargetType: "inspector_link", TargetID: l.ID, Details: what})
}

// UnitSite returns the site and its time zone of an organisation's unit,
// or [ErrNotFound].
func UnitSite(ctx context.Context, db database.Querier, orgID, unitID string) (site, tz string, err error) {
	if !uuids.Valid(unitID) {
		return "", "", ErrNotFound
	}
	err = db.QueryRow(ctx, `SELECT s.id, s.timezone FROM units u JOIN sites s ON s.id = u.site_id WHERE u.org_id = $1 AND u.id = $2`,
		orgID, unitID).Scan(&site, &tz)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", ErrNotFound
	}
	return site, tz, err
}

// AlertSite returns the site, its time zone and when the alert opened, of
// an organisation's alert, or [ErrNotFound].
func AlertSite(ctx context.Context, db database.Querier, orgID, alertID string) (site, tz string, opened time.Time, err error) {
	if !uuids.Valid(alertID) {
		return "", "", time.Time{}, ErrNotFound
	}
	err = db.QueryRow(ctx, `SELECT s.id, s.timezone, a.opened_at FROM alerts a JOIN units u ON u.id = a.unit_id JOIN sites s ON s.id = u.site_id
		WHERE a.org_id = $1 AND a.id = $2`, orgID, alertID).Scan(&site, &tz, &opened)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", time.Time{}, ErrNotFound
	}
	return site, tz, opened, err
}

// GetOrganizationView is an organisation's wire form without a member's
// role: what an inspector link reads of it. It returns its version too.
func GetOrganizationView(ctx context.Context, db database.Querier, orgID string) (json.RawMessage, int, error) {
	var item json.RawMessage
	var version int
	err := db.QueryRow(ctx, `
		SELECT jsonb_build_object('id', o.id, 'name', o.name, 'settings', o.settings, 'version', o.version, 'created_at', o.created_at), o.version
		  FROM organizations o WHERE o.id = $1 AND o.deleted_at IS NULL`, orgID).Scan(&item, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get organization: %w", err)
	}
	return item, version, nil
}
