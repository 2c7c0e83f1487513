package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chromedp/chromedp"

	"github.com/freshtrack/freshtrack/auth"
)

// signDemoWeek is TestWebApp's sign-off: the manager, signed in, reviews
// the demo site's last seven days on the reports page, signs, goes through
// the re-authentication round trip at the development issuer (picking
// themself again), confirms, and the HACCP PDF then prints the signature.
func signDemoWeek(t *testing.T, w *webWorld, b *browser, ctx context.Context) {
	base := w.p.base()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(berlin)
	from, to := now.AddDate(0, 0, -7).Format(time.DateOnly), now.AddDate(0, 0, -1).Format(time.DateOnly)
	page := "/o/" + w.fleet.OrgID + "/reports?site=" + w.fleet.SiteID + "&from=" + from + "&to=" + to
	persona := `//button[contains(., "` + auth.DevEmail(auth.Manager) + `")]`
	b.run(ctx, "reports page with the sign form", chromedp.Navigate(base+page), chromedp.WaitVisible(chromedp.CSS(`#sign-form`)),
		waitJS(`document.querySelector('#signatures tbody').textContent.includes('not reviewed/signed')`, 10*time.Second),
		do(`document.querySelector('#sign-form input[name=printed_name]').value = 'Dana Dev Manager'; document.querySelector('#sign-form select[name=meaning]').value = 'verified'`),
		chromedp.Click(chromedp.CSS(`#sign-start`)))
	b.run(ctx, "the identity provider asks again", chromedp.WaitVisible(chromedp.Search(persona)), chromedp.Click(chromedp.Search(persona)))
	b.run(ctx, "back on the form to confirm", chromedp.WaitVisible(chromedp.CSS(`#sign-confirm`)),
		waitJS(`location.hash === '' && location.pathname.endsWith('/reports')`, 5*time.Second),
		chromedp.Click(chromedp.CSS(`#sign-confirm`)), chromedp.WaitVisible(chromedp.CSS(`#signed`)),
		waitJS(`[...document.querySelectorAll('#signatures td')].some(td => td.textContent === 'Dana Dev Manager')`, 10*time.Second))

	var name, meaning, hash, signer string
	if err := w.pool.QueryRow(context.Background(), `
		SELECT s.printed_name, s.meaning, s.content_hash, u.email FROM record_signoffs s JOIN users u ON u.id = s.signer_id
		 WHERE s.org_id = $1 AND s.site_id = $2 AND s.period_from = $3 AND s.period_to = $4`, w.fleet.OrgID, w.fleet.SiteID, from, to).
		Scan(&name, &meaning, &hash, &signer); err != nil {
		t.Fatal(err)
	}
	if name != "Dana Dev Manager" || meaning != "verified" || signer != auth.DevEmail(auth.Manager) {
		t.Fatalf("stored signature %s %s by %s", name, meaning, signer)
	}

	tok, err := mintDevToken(context.Background(), w.pool, w.keyFile, w.p.addr, w.fleet.OrgID, auth.Viewer, "", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+"/v1/orgs/"+w.fleet.OrgID+"/reports/haccp?format=pdf&site="+w.fleet.SiteID+"&from="+from+"&to="+to, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pdf: %d %s", resp.StatusCode, pdf)
	}
	text := pdfPageBytes(t, pdf)
	for _, want := range []string{"Review and sign-off", "Dana Dev Manager", "verified", "current", hash[:16]} {
		if !bytes.Contains(text, utf16BE(want)) {
			t.Errorf("the PDF does not print %q", want)
		}
	}
	if bytes.Contains(text, utf16BE("Not reviewed/signed")) {
		t.Error("the signed PDF says it is not signed")
	}
}

// pdfPageBytes inflates the PDF's compressed streams: the page contents,
// whose text the Go fonts (Identity-H, code = Unicode) hold as UTF-16BE.
func pdfPageBytes(t *testing.T, pdf []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, m := range regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`).FindAllSubmatch(pdf, -1) {
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue
		}
		_, _ = io.Copy(&out, r)
	}
	if out.Len() == 0 {
		t.Fatal("no content stream in the PDF")
	}
	return out.Bytes()
}

func utf16BE(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(strings.ToValidUTF8(s, "?"))) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}
