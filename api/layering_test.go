package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sqlMethods are the calls that run SQL on a pgx pool, connection or
// transaction (or start one).
var sqlMethods = []string{"Query", "QueryRow", "Exec", "Begin", "BeginTx", "BeginFunc", "SendBatch", "CopyFrom"}

// TestAPIRunsNoSQL keeps the layering: api decodes, checks roles, calls a
// capability (fleet, alerting, auth, notify, digest, query, compliance) and
// encodes. It fails when a non-test file of api imports a pgx package (or
// database/sql) or calls a method that runs SQL. c.Query on a *fiber.Ctx
// reads a URL query parameter and is the one Query allowed.
func TestAPIRunsNoSQL(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/jackc/pgx") || p == "database/sql" {
				t.Errorf("%s imports %s: api runs no SQL; call the capability that owns the data", fset.Position(imp.Pos()), p)
			}
		}
		ctxs := fiberCtxNames(f)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !slices.Contains(sqlMethods, sel.Sel.Name) {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && sel.Sel.Name == "Query" && ctxs[x.Name] {
				return true // (*fiber.Ctx).Query: a URL query parameter
			}
			t.Errorf("%s calls %s: api runs no SQL; call the capability that owns the data", fset.Position(call.Pos()), sel.Sel.Name)
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("only %d files checked; is the test running in api/?", checked)
	}
}

// fiberCtxNames returns the names the file gives parameters of type
// *fiber.Ctx.
func fiberCtxNames(f *ast.File) map[string]bool {
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		ft, ok := n.(*ast.FuncType)
		if !ok || ft.Params == nil {
			return true
		}
		for _, p := range ft.Params.List {
			star, ok := p.Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			sel, ok := star.X.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Ctx" {
				continue
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "fiber" {
				continue
			}
			for _, id := range p.Names {
				names[id.Name] = true
			}
		}
		return true
	})
	return names
}
