package main

import (
	"bytes"
	"context"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/result"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

func TestHTMLReportIsSelfContained(t *testing.T) {
	rep := sampleReport()
	rep.Results[1].Cause = `<script>alert("x")</script>`
	var buf bytes.Buffer
	if err := writeReport(&buf, "html", rep, securityhub.Source{}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<td class="warning"><span class="badge warning">AGREEMENT_MISSING 1</span>`, // 111's cell: worst is the missing agreement
		"&lt;script&gt;", // causes are escaped
		"suppressed until 2027-03-31 by ml@example.com: accepted",
		`content="default-src 'none'; style-src 'unsafe-inline'"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("page has %q: it must not fetch or run anything", banned)
		}
	}
	var hist bytes.Buffer
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	if err := writeEntries(&hist, "html", []history.Entry{
		{At: at, Account: "111111111111", Region: "us-east-1", Model: "m", Status: result.Enabled, Previous: result.NotAuthorized},
		{At: at.Add(-24 * time.Hour), Account: "111111111111", Region: "us-east-1", Model: "m", Status: result.NotAuthorized},
	}, false, tableView{width: defaultWidth}); err != nil {
		t.Fatal(err)
	}
	if h := hist.String(); !strings.Contains(h, "<h3>2026-11-26</h3>") || !strings.Contains(h, "<h3>2026-11-25</h3>") || strings.Index(h, "2026-11-26") > strings.Index(h, "2026-11-25") {
		t.Errorf("timeline: want days newest first:\n%s", h)
	}
}

// TestHTMLInChromium opens the demo's report in headless Chromium (Debian's
// package; `make report-screenshot` installs it): the page renders, shows the
// demo's statuses in its grid, and logs no console message. Without Chromium
// it is skipped, unless GRANTWATCH_REQUIRE_CHROMIUM=1.
func TestHTMLInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("GRANTWATCH_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium not found; `make report-screenshot` installs it")
		}
		t.Skip("chromium not installed; `make report-screenshot` installs it and runs this test")
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--output", "html"}, &stdout, &stderr); code != exitUsable {
		t.Fatalf("demo: exit %d: %s", code, &stderr)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, stdout.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	browse := func(args ...string) (string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// The flags the machine's documentation gives for a closed network.
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
		cmd := exec.CommandContext(ctx, chromium, append(append(base, args...), "file://"+page)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, &errOut)
		}
		return out.String(), errOut.String()
	}
	dom, log := browse("--dump-dom")
	// The grid's badges as the report wrote them ("SCP_DENIED 2"): the
	// browser must render each, whatever the demo's counts are today.
	badges := map[string]bool{}
	for _, m := range regexp.MustCompile(`class="badge[^"]*">([^<]+)</span>`).FindAllStringSubmatch(stdout.String(), -1) {
		badges[html.UnescapeString(m[1])] = true
	}
	if len(badges) < 5 {
		t.Fatalf("the demo's report has %d distinct badges; want the grid of every status it shows", len(badges))
	}
	for want := range badges {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks the badge %q", want)
		}
	}
	if !strings.Contains(dom, "Accounts × regions") {
		t.Errorf("rendered page lacks %q", "Accounts × regions")
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "Refused to") {
			t.Errorf("console: %s", line)
		}
	}
	shot := filepath.Join(dir, "report.png")
	browse("--window-size=1500,2200", "--screenshot="+shot)
	if info, err := os.Stat(shot); err != nil || info.Size() < 10000 {
		t.Errorf("screenshot: %v (%v)", info, err)
	}
}
