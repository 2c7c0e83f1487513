package compliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Review and electronic sign-off of a site's HACCP record (21 CFR 117.165
// and 117.305 want records reviewed and signed; 21 CFR 11.50 says what a
// signature shows). A manager signs a site's record for a period: the
// signature is an audit_log entry (record.signed) in the organisation's
// hash chain, carrying the printed name as typed, the meaning and the
// report's content hash at signing; record_signoffs indexes it. The hash is
// the one of the report as HACCP builds it in °C for every unit of the site
// with the default gap threshold (signedParams), whatever unit the reader
// asks for. Regenerating the report later gives the same hash while the
// covered records are unchanged; a late reading, an edited corrective
// action or any other change to them gives another, and the signature shows
// as stale. Signatures are not part of the hashed content, so signing does
// not change the hash it signs.

// Meanings of a signature.
const (
	MeaningReviewed = "reviewed"
	MeaningVerified = "verified"
)

// Signature statuses.
const (
	// SignatureCurrent: the report recomputed now has the hash signed.
	SignatureCurrent = "current"
	// SignatureStale: the covered records changed since signing.
	SignatureStale = "stale"
)

// Review statuses of a report.
const (
	ReviewNotSigned = "not_signed"
	ReviewSigned    = "signed"
	ReviewStale     = "stale"
)

// Limits of a signature's text.
const (
	MaxPrintedName = 200
	MaxComment     = 2000
)

// Signoff is an electronic signature over a site's record for a period.
type Signoff struct {
	// ID is the signature's id.
	ID string `json:"id"`
	// SiteID is the site whose record was signed.
	SiteID string `json:"site_id"`
	// From and To are the period's first and last day (YYYY-MM-DD, the
	// site's local days), as the report takes them.
	From string `json:"from"`
	// To is the last day, included.
	To string `json:"to"`
	// Meaning is reviewed or verified.
	Meaning string `json:"meaning"`
	// SignerID is the signer's user id.
	SignerID string `json:"signer_id"`
	// PrintedName is the signer's name as they typed it when signing.
	PrintedName string `json:"printed_name"`
	// SignedAt is when.
	SignedAt time.Time `json:"signed_at"`
	// ContentSHA256 is the report's content hash at signing.
	ContentSHA256 string `json:"content_sha256"`
	// AuditID is the audit_log entry that is the signature.
	AuditID int64 `json:"audit_id"`
	// Comment is the signer's note; nil without.
	Comment *string `json:"comment"`
	// Status is current or stale: whether the report recomputed now
	// still has ContentSHA256.
	Status string `json:"status"`
}

// Review is what a report says about its sign-off. It is not covered by
// the content hash.
type Review struct {
	// Status is not_signed, signed (every signature current) or stale
	// (some signature no longer matches the records).
	Status string `json:"status"`
	// Statement says it in words, as the CSV and PDF print it.
	Statement string `json:"statement"`
	// Signatures are those over exactly the report's site and period,
	// oldest first.
	Signatures []Signoff `json:"signatures"`
}

// signedParams are the report parameters a signature's hash is computed
// with: °C, every unit, the default gap threshold.
func signedParams(orgID, siteID string, from, to time.Time) HACCPParams {
	return HACCPParams{OrgID: orgID, SiteID: siteID, From: from, To: to, Unit: Celsius, GapAfter: DefaultGapAfter}
}

// isSignedForm reports whether a report built with p has the hash a
// signature carries.
func isSignedForm(p HACCPParams) bool {
	return p.Unit == Celsius && len(p.UnitIDs) == 0 && p.GapAfter == DefaultGapAfter
}

// SignParams are the inputs of [Sign].
type SignParams struct {
	// OrgID and SiteID name the site.
	OrgID, SiteID string
	// From and To are the period's first and last day, as HACCPParams.
	From, To time.Time
	// Meaning is reviewed or verified.
	Meaning string
	// PrintedName is the signer's name as typed (1 to 200 characters).
	PrintedName string
	// Comment is optional (at most 2000 characters).
	Comment string
	// SignerID is the signing user; Actor the audit actor.
	SignerID, Actor string
	// Reauth proves, inside the signature's transaction, that the signer
	// authenticated at the identity provider moments ago, and returns when
	// (see auth.FreshAuth and auth.RedeemSigningGrant). Required.
	Reauth func(ctx context.Context, db database.Querier) (time.Time, error)
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func validateSign(p *SignParams) error {
	p.PrintedName = strings.TrimSpace(p.PrintedName)
	p.Comment = strings.TrimSpace(p.Comment)
	switch {
	case p.Meaning != MeaningReviewed && p.Meaning != MeaningVerified:
		return &ValidationError{Field: "meaning", Reason: "must be reviewed or verified"}
	case p.PrintedName == "":
		return &ValidationError{Field: "printed_name", Reason: "is required: type your name as it is to appear on the record"}
	case utf8.RuneCountInString(p.PrintedName) > MaxPrintedName:
		return &ValidationError{Field: "printed_name", Reason: fmt.Sprintf("must be at most %d characters", MaxPrintedName)}
	case strings.ContainsAny(p.PrintedName, "\r\n\t"):
		return &ValidationError{Field: "printed_name", Reason: "must be one line"}
	case utf8.RuneCountInString(p.Comment) > MaxComment:
		return &ValidationError{Field: "comment", Reason: fmt.Sprintf("must be at most %d characters", MaxComment)}
	case p.Reauth == nil:
		return fmt.Errorf("%w: no re-authentication was offered", auth.ErrReauthRequired)
	}
	hp := signedParams(p.OrgID, p.SiteID, p.From, p.To)
	return validateHACCP(&hp)
}

// signAttempts bounds how often Sign retries a signature that met a
// concurrent audit append.
const signAttempts = 5

// Sign signs a site's record for a period: in one transaction it checks the
// signer's re-authentication, builds the report, and appends the
// record.signed audit entry with the report's content hash and the
// record_signoffs row that indexes it. A period that has not ended (its
// last local day is not over) cannot be signed: its record is still
// growing. Bad input is a *ValidationError naming the field; a missing or
// old re-authentication wraps auth.ErrReauthRequired.
func Sign(ctx context.Context, db database.DB, p SignParams) (Signoff, error) {
	if err := validateSign(&p); err != nil {
		return Signoff{}, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	var s Signoff
	sign := func(tx pgx.Tx) error {
		authAt, err := p.Reauth(ctx, tx)
		if err != nil {
			return err
		}
		signedAt := now().UTC()
		if err := auth.FreshAuth(authAt, signedAt); err != nil {
			return err
		}
		rep, err := buildHACCP(ctx, tx, signedParams(p.OrgID, p.SiteID, p.From, p.To), signedAt)
		if err != nil {
			return err
		}
		if signedAt.Before(rep.Header.PeriodEnd) {
			return &ValidationError{Field: "to", Reason: "the period has not ended yet in the site's time zone; sign it once its last day is over"}
		}
		h := rep.Header
		var comment *string
		if p.Comment != "" {
			comment = &p.Comment
		}
		s = Signoff{SiteID: h.SiteID, From: h.From, To: h.To, Meaning: p.Meaning, SignerID: p.SignerID, PrintedName: p.PrintedName,
			SignedAt: signedAt.Truncate(time.Microsecond), ContentSHA256: h.ContentSHA256, Comment: comment, Status: SignatureCurrent}
		s.AuditID, err = auth.AppendAudit(ctx, tx, auth.AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "record.signed",
			TargetType: "site", TargetID: h.SiteID, Details: map[string]any{
				"site": h.SiteID, "site_name": h.Site, "from": h.From, "to": h.To, "meaning": p.Meaning,
				"printed_name": p.PrintedName, "signer_id": p.SignerID, "signed_at": s.SignedAt,
				"authenticated_at": authAt.UTC(), "content_hash": h.ContentSHA256, "comment": comment}})
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO record_signoffs (org_id, site_id, period_from, period_to, meaning, signer_id, printed_name, signed_at, content_hash, audit_id, comment)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id::text`,
			p.OrgID, h.SiteID, h.From, h.To, p.Meaning, p.SignerID, p.PrintedName, s.SignedAt, h.ContentSHA256, s.AuditID, comment).Scan(&s.ID)
	}
	// One snapshot for the report and the signature: the hash signed is the
	// hash of what this transaction saw. Inside a caller's transaction (a
	// savepoint) its isolation applies.
	var err error
	if b, ok := db.(interface {
		BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	}); ok {
		// An audit entry appended by someone else after this snapshot
		// makes the signature's append a serialization failure (the chain
		// cannot fork): sign again on a newer snapshot.
		for attempt := 1; ; attempt++ {
			err = pgx.BeginTxFunc(ctx, b, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, sign)
			var pgErr *pgconn.PgError
			if attempt == signAttempts || !errors.As(err, &pgErr) || pgErr.Code != "40001" {
				break
			}
		}
	} else {
		err = pgx.BeginFunc(ctx, db, sign)
	}
	if err != nil {
		return Signoff{}, err
	}
	return s, nil
}

// ListSignoffsParams are the inputs of [ListSignoffs].
type ListSignoffsParams struct {
	// OrgID and SiteID name the site.
	OrgID, SiteID string
	// Limit is the number of signatures, newest first: 1 to
	// MaxListSignoffs. Defaults to 20.
	Limit int
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// MaxListSignoffs bounds a list of signatures: each distinct period listed
// is one report rebuilt to judge its signatures.
const MaxListSignoffs = 50

// ListSignoffs returns a site's newest signatures, each with its status:
// current when the report over its period, recomputed now, still has the
// hash signed, stale when not. The report is rebuilt once per distinct
// period, in one read-only snapshot.
func ListSignoffs(ctx context.Context, db database.Querier, p ListSignoffsParams) ([]Signoff, error) {
	if p.Limit == 0 {
		p.Limit = 20
	}
	if p.Limit < 1 || p.Limit > MaxListSignoffs {
		return nil, &ValidationError{Field: "limit", Reason: fmt.Sprintf("must be 1 to %d", MaxListSignoffs)}
	}
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.SiteID) {
		return nil, ErrNotFound
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	var out []Signoff
	err := readOnly(ctx, db, func(q database.Querier) error {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sites WHERE org_id = $1 AND id = $2)`, p.OrgID, p.SiteID).Scan(&exists); err != nil {
			return fmt.Errorf("list signatures: %w", err)
		}
		if !exists {
			return ErrNotFound
		}
		var err error
		if out, err = loadSignoffs(ctx, q, p.OrgID, p.SiteID, "", "", p.Limit); err != nil {
			return err
		}
		hashes := map[[2]string]string{}
		for i := range out {
			key := [2]string{out[i].From, out[i].To}
			h, ok := hashes[key]
			if !ok {
				from, _ := time.Parse(time.DateOnly, out[i].From)
				to, _ := time.Parse(time.DateOnly, out[i].To)
				rep, err := buildHACCP(ctx, q, signedParams(p.OrgID, p.SiteID, from, to), now)
				if err != nil {
					return err
				}
				h = rep.Header.ContentSHA256
				hashes[key] = h
			}
			out[i].Status = statusOf(out[i], h)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nonNil(out), nil
}

func statusOf(s Signoff, currentHash string) string {
	if s.ContentSHA256 == currentHash {
		return SignatureCurrent
	}
	return SignatureStale
}

// loadSignoffs reads a site's signatures, newest first; with from and to,
// only those over exactly that period.
func loadSignoffs(ctx context.Context, db database.Querier, orgID, siteID, from, to string, limit int) ([]Signoff, error) {
	var f, t *string
	if from != "" {
		f, t = &from, &to
	}
	rows, err := db.Query(ctx, `
		SELECT id::text, site_id::text, to_char(period_from, 'YYYY-MM-DD'), to_char(period_to, 'YYYY-MM-DD'), meaning,
		       signer_id::text, printed_name, signed_at, content_hash, audit_id, comment
		  FROM record_signoffs
		 WHERE org_id = $1 AND site_id = $2 AND ($3::date IS NULL OR (period_from = $3::date AND period_to = $4::date))
		 ORDER BY signed_at DESC, audit_id DESC LIMIT $5`, orgID, siteID, f, t, limit)
	if err != nil {
		return nil, fmt.Errorf("read signatures: %w", err)
	}
	var s Signoff
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Signoff, error) {
		err := row.Scan(&s.ID, &s.SiteID, &s.From, &s.To, &s.Meaning, &s.SignerID, &s.PrintedName, &s.SignedAt,
			&s.ContentSHA256, &s.AuditID, &s.Comment)
		s.SignedAt = s.SignedAt.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read signatures: %w", err)
	}
	return out, nil
}

// maxReportSignatures bounds the signatures a report prints.
const maxReportSignatures = 20

// reviewOf reads the signatures over exactly the report's site and period
// and judges them against the hash of the report in its signed form: rep's
// own hash when it was built that way, else one more build in the same
// snapshot.
func reviewOf(ctx context.Context, db database.Querier, p HACCPParams, rep *Report, now time.Time) (Review, error) {
	h := rep.Header
	sigs, err := loadSignoffs(ctx, db, p.OrgID, h.SiteID, h.From, h.To, maxReportSignatures)
	if err != nil {
		return Review{}, err
	}
	if len(sigs) == 0 {
		return Review{Status: ReviewNotSigned, Statement: "Not reviewed/signed: no signature covers this period.", Signatures: []Signoff{}}, nil
	}
	current := h.ContentSHA256
	if !isSignedForm(p) {
		from, _ := time.Parse(time.DateOnly, h.From)
		to, _ := time.Parse(time.DateOnly, h.To)
		signed, err := buildHACCP(ctx, db, signedParams(p.OrgID, p.SiteID, from, to), now)
		if err != nil {
			return Review{}, err
		}
		current = signed.Header.ContentSHA256
	}
	rv := Review{Status: ReviewSigned, Signatures: make([]Signoff, 0, len(sigs))}
	stale := 0
	for i := len(sigs) - 1; i >= 0; i-- { // oldest first, as a record reads
		s := sigs[i]
		s.Status = statusOf(s, current)
		if s.Status == SignatureStale {
			stale++
		}
		rv.Signatures = append(rv.Signatures, s)
	}
	switch {
	case stale == len(sigs):
		rv.Status = ReviewStale
		rv.Statement = "Not reviewed/signed as it stands: the records changed after every signature below (stale)."
	case stale > 0:
		rv.Statement = fmt.Sprintf("Signed; %d of %d signatures are stale (the records changed after them).", stale, len(sigs))
	default:
		rv.Statement = "Signed: the signatures below match the records as they stand."
	}
	return rv, nil
}
