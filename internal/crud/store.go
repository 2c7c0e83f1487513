package crud

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

type cursor struct {
	At  time.Time `json:"t"`
	Key string    `json:"k"`
}

func encodeCursor(at time.Time, key string) string {
	b, _ := json.Marshal(cursor{at, key})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	return c, err
}

// ListParams select a page of a collection.
type ListParams struct {
	OrgID string
	// Filters hold a value for some of the collection's Filters; empty
	// values are ignored.
	Filters map[string]string
	// Cursor is the NextCursor of the previous page, or empty.
	Cursor string
	// Limit is the page size, 1 to 200.
	Limit int
}

// Page is a page of a collection, oldest first.
type Page struct {
	Items []json.RawMessage
	// NextCursor is nil on the last page.
	NextCursor *string
}

// List returns a page of the organisation's rows.
func (c *Collection) List(ctx context.Context, db database.DB, p ListParams) (Page, error) {
	var cur *cursor
	if p.Cursor != "" {
		cc, err := decodeCursor(p.Cursor)
		if err != nil {
			return Page{}, invalid(FieldError{Field: "cursor", Reason: "is not a cursor this API gave out"})
		}
		cur = &cc
	}
	args := []any{p.OrgID}
	where := []string{"t.org_id = $1"}
	for _, fname := range c.Filters {
		v := p.Filters[fname]
		if v == "" {
			continue
		}
		f := c.Field(fname)
		if f.Kind == Ref && !uuids.Valid(v) {
			return Page{}, invalid(FieldError{Field: fname, Reason: "must be a UUID"})
		}
		args = append(args, v)
		where = append(where, fmt.Sprintf("t.%s = $%d", f.Column(), len(args)))
	}
	if cur != nil {
		args = append(args, cur.At, cur.Key)
		where = append(where, fmt.Sprintf("(t.created_at, t.%s::text) > ($%d, $%d)", c.key(), len(args)-1, len(args)))
	}
	args = append(args, p.Limit+1)
	rows, err := db.Query(ctx, fmt.Sprintf(`
			SELECT %s, t.created_at, t.%s::text FROM %s t WHERE %s
			 ORDER BY t.created_at, t.%s::text LIMIT $%d`,
		c.projection(), c.key(), c.Table, strings.Join(where, " AND "), c.key(), len(args)), args...)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: make([]json.RawMessage, 0, p.Limit)}
	var (
		item         json.RawMessage
		at, lastAt   time.Time
		key, lastKey string
	)
	_, err = pgx.ForEachRow(rows, []any{&item, &at, &key}, func() error {
		if len(page.Items) == p.Limit {
			s := encodeCursor(lastAt, lastKey)
			page.NextCursor = &s
			return nil
		}
		page.Items = append(page.Items, append(json.RawMessage(nil), item...))
		lastAt, lastKey = at, key
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return page, nil
}

// Get returns a row's wire form and version.
func (c *Collection) Get(ctx context.Context, db database.DB, orgID, id string) (json.RawMessage, int, error) {
	return c.fetch(ctx, db, orgID, id)
}

func (c *Collection) fetch(ctx context.Context, q database.Querier, orgID, id string) (json.RawMessage, int, error) {
	if !uuids.Valid(id) {
		return nil, 0, ErrNotFound
	}
	var item json.RawMessage
	var version int
	err := q.QueryRow(ctx, fmt.Sprintf(`SELECT %s, t.version FROM %s t WHERE t.org_id = $1 AND t.%s = $2`, c.projection(), c.Table, c.ID()), orgID, id).Scan(&item, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	return item, version, err
}

func (c *Collection) audit(ctx context.Context, tx pgx.Tx, orgID, actor, verb, id string, details any) error {
	return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: orgID, Actor: actor, Action: c.Singular + "." + verb,
		TargetType: c.Singular, TargetID: id, Details: details})
}

// Create inserts a row (version 1) with its audit row, in one transaction,
// and returns its wire form and id.
func (c *Collection) Create(ctx context.Context, db database.DB, orgID, actor string, ch Change) (json.RawMessage, string, error) {
	ph := make([]string, len(ch.Cols))
	for i := range ch.Cols {
		ph[i] = fmt.Sprintf("$%d", i+2)
	}
	var item json.RawMessage
	var id string
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if ch.Guard != nil {
			if err := ch.Guard(ctx, tx); err != nil {
				return err
			}
		}
		colList := strings.Join(append([]string{"org_id"}, ch.Cols...), ", ")
		err := tx.QueryRow(ctx, fmt.Sprintf(`
				WITH t AS (INSERT INTO %s (%s) VALUES ($1%s) RETURNING *)
				SELECT %s, t.%s::text FROM t`, c.Table, colList, prefixComma(ph), c.projection(), c.ID()),
			append([]any{orgID}, ch.Vals...)...).Scan(&item, &id)
		if err != nil {
			return c.dbError(err)
		}
		return c.audit(ctx, tx, orgID, actor, "create", id, ch.Body)
	})
	if err != nil {
		return nil, "", err
	}
	return item, id, nil
}

func prefixComma(ph []string) string {
	if len(ph) == 0 {
		return ""
	}
	return ", " + strings.Join(ph, ", ")
}

// Update changes a row if its version is still version, with its audit
// row, in one transaction, and returns its wire form and new version. A
// row whose version moved on is a [*StaleError].
func (c *Collection) Update(ctx context.Context, db database.DB, orgID, id, actor string, version int, ch Change) (json.RawMessage, int, error) {
	if !uuids.Valid(id) {
		return nil, 0, ErrNotFound
	}
	sets := []string{"version = version + 1", "updated_at = now()"}
	for i, col := range ch.Cols {
		sets = append(sets, fmt.Sprintf("%s = $%d", col, i+4))
	}
	var item json.RawMessage
	var newVersion int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, fmt.Sprintf(`
				WITH t AS (UPDATE %s SET %s WHERE org_id = $1 AND %s = $2 AND version = $3 RETURNING *)
				SELECT %s, t.version FROM t`, c.Table, strings.Join(sets, ", "), c.ID(), c.projection()),
			append([]any{orgID, id, version}, ch.Vals...)...).Scan(&item, &newVersion)
		if errors.Is(err, pgx.ErrNoRows) {
			_, current, ferr := c.fetch(ctx, tx, orgID, id)
			if ferr != nil {
				return ferr
			}
			return &StaleError{What: c.Singular, Current: current}
		}
		if err != nil {
			return c.dbError(err)
		}
		if c.UpdateCheck != nil {
			var row map[string]json.RawMessage
			if err := json.Unmarshal(item, &row); err != nil {
				return fmt.Errorf("read the updated %s: %w", c.Singular, err)
			}
			if errs := c.UpdateCheck(row); len(errs) > 0 {
				return invalid(errs...)
			}
		}
		return c.audit(ctx, tx, orgID, actor, "update", id, ch.Body)
	})
	if err != nil {
		return nil, 0, err
	}
	return item, newVersion, nil
}

// Delete removes a row (or sets its SoftDelete column) with its audit row,
// in one transaction, unless dependents block it ([*ConflictError]).
func (c *Collection) Delete(ctx context.Context, db database.DB, orgID, id, actor string) error {
	if !uuids.Valid(id) {
		return ErrNotFound
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var key string
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT %s::text FROM %s WHERE org_id = $1 AND %s = $2 FOR UPDATE`, c.key(), c.Table, c.ID()), orgID, id).Scan(&key)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		for _, d := range c.Blocks {
			var n int
			if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE org_id = $1 AND %s::text = $2`, d.Table, d.Column), orgID, key).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return &ConflictError{Reason: fmt.Sprintf("the %s still has %d %s; remove or move them first (their history is kept for compliance)", c.Singular, n, d.What)}
			}
		}
		if c.SoftDelete != "" {
			_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = coalesce(%s, now()), version = version + 1, updated_at = now() WHERE org_id = $1 AND %s = $2`,
				c.Table, c.SoftDelete, c.SoftDelete, c.ID()), orgID, id)
		} else {
			_, err = tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE org_id = $1 AND %s = $2`, c.Table, c.ID()), orgID, id)
		}
		if err != nil {
			return c.dbError(err)
		}
		return c.audit(ctx, tx, orgID, actor, "delete", id, nil)
	})
}
