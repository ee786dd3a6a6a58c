package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/historyurl"
	"github.com/grantwatch/grantwatch/pkg/result"
)

func historyCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file naming history.table")
	historyURL := fs.String("url", "", "the history URL (stack output HistoryUrl), signed with your own AWS credentials, instead of the table")
	table := fs.String("table", "", "DynamoDB table (instead of --config)")
	account := fs.String("account", "", "account id (required)")
	region := fs.String("region", "", "only this region")
	model := fs.String("model", "", "only this model id")
	since := fs.String("since", "", "from: a duration back from now (7d, 12h) or a date (2026-11-01, RFC 3339)")
	until := fs.String("until", "", "to: a date (2026-11-30, RFC 3339)")
	limit := fs.Int("limit", 100, "most entries to show")
	latest := fs.Bool("latest", false, "show the latest state of the checks instead of the changes: a summary and the problems")
	all := fs.Bool("all", false, "with --latest, table output: print every check, usable ones included, not only the summary and the problems")
	output := outputFlag(fs, historyFormats)
	profile := fs.String("profile", "", "AWS shared config profile")
	timeout := fs.Duration("timeout", 60*time.Second, "most time for the whole command; each request to --url also has 30s")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 || *timeout > time.Hour {
		return usageError(fmt.Sprintf("--timeout %s: want more than 0 and at most 1h", *timeout))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *account == "" && *historyURL == "" {
		return usageError("history needs --account ID")
	}
	if *account != "" && !config.ValidAccountID(*account) {
		return usageError(fmt.Sprintf("--account: account %q is not 12 digits", *account))
	}
	if *historyURL != "" && (*table != "" || *path != "") {
		return usageError("--url reads the history URL; it does not go with --table or --config")
	}
	if *limit < 1 || *limit > 10000 {
		return usageError(fmt.Sprintf("--limit %d: want 1 to 10000", *limit))
	}
	name := *table
	if *historyURL != "" {
		name = "(url)"
	}
	if *path != "" {
		cfg, err := config.Load(*path)
		if err != nil {
			return err
		}
		if name == "" {
			name = cfg.History.Table
		}
	}
	if name == "" {
		return usageError("history needs --table NAME, or --config FILE with history.table")
	}
	q := history.Query{Account: *account, Region: *region, Model: *model}
	var err error
	now := time.Now()
	if q.Since, err = history.ParseTime(*since, now); err != nil {
		return usageError("--since: " + err.Error())
	}
	if q.Until, err = history.ParseTime(*until, now); err != nil {
		return usageError("--until: " + err.Error())
	}

	awsCfg, err := loadAWSConfig(ctx, *profile)
	if err != nil {
		return err
	}
	var entries []history.Entry
	more := false
	if *historyURL != "" {
		client, err := historyurl.New(*historyURL, awsCfg, historyurl.WithRequestTimeout(min(*timeout, historyurl.DefaultRequestTimeout)))
		if err != nil {
			return usageError(err.Error())
		}
		if *latest {
			entries, err = client.Latest(ctx, *account)
		} else {
			entries, more, err = client.History(ctx, q, *limit)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("%w (--timeout %s)", err, *timeout)
		}
		if err != nil {
			return err
		}
		if err := writeEntries(stdout, *output, entries, *latest, viewFor(stdout, *all)); err != nil {
			return err
		}
		if more && *output == "table" {
			fmt.Fprintf(stdout, "(showing the newest %d; raise --limit or narrow --since for more)\n", len(entries))
		}
		return nil
	}
	store := history.New(dynamodb.NewFromConfig(awsCfg), name, 0)
	if *latest {
		entries, err = store.LatestOf(ctx, *account)
		if err != nil {
			return err
		}
	} else {
		for len(entries) < *limit {
			q.Limit = min(*limit-len(entries), 1000)
			page, next, err := store.History(ctx, q)
			if err != nil {
				return err
			}
			entries = append(entries, page...)
			if next == "" {
				break
			}
			q.PageToken, more = next, true
		}
		more = more && len(entries) >= *limit
	}
	if err := writeEntries(stdout, *output, entries, *latest, viewFor(stdout, *all)); err != nil {
		return err
	}
	if more && *output == "table" {
		fmt.Fprintf(stdout, "(showing the newest %d; raise --limit or narrow --since for more)\n", len(entries))
	}
	return nil
}

// historyJSON writes the entries as an indented JSON array.
func historyJSON(w io.Writer, entries []history.Entry, _ bool, _ tableView) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if entries == nil {
		entries = []history.Entry{}
	}
	return enc.Encode(entries)
}

// historyCSV writes the entries as CSV with a header row.
func historyCSV(w io.Writer, entries []history.Entry, _ bool, _ tableView) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at", "run_id", "account", "region", "model", "principal", "status", "previous", "cause", "remediation"})
	for _, e := range entries {
		_ = cw.Write([]string{e.At.Format(time.RFC3339), e.RunID, e.Account, e.Region, e.Model, e.Principal, string(e.Status), string(e.Previous), e.Cause, e.Remediation})
	}
	cw.Flush()
	return cw.Error()
}

// historyTable writes the entries as a table cut to view.width; the latest
// states as a summary and the problems (every check first with view.all).
func historyTable(w io.Writer, entries []history.Entry, latest bool, view tableView) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "no history for this selection")
		return err
	}
	if latest && !view.all {
		return latestProblems(w, entries, view.width)
	}
	// The PRINCIPAL column only when principals were evaluated.
	principals := slices.ContainsFunc(entries, func(e history.Entry) bool { return e.Principal != "" })
	var rows [][]string
	model := 2 // the MODEL column; PRINCIPAL follows it
	if latest {
		model = 1
	}
	row := func(cells ...string) {
		if !principals {
			cells = slices.Delete(cells, model+1, model+2)
		}
		rows = append(rows, cells)
	}
	if latest {
		row("REGION", "MODEL", "PRINCIPAL", "STATUS", "SINCE", "CHECKED", "CAUSE")
		for _, e := range entries {
			row(e.Region, e.Model, cmp.Or(e.Principal, "(account)"), string(e.Status), e.Since.Format(time.RFC3339), e.At.Format(time.RFC3339), e.Cause)
		}
	} else {
		row("AT", "REGION", "MODEL", "PRINCIPAL", "STATUS", "WAS", "CAUSE")
		for _, e := range entries {
			was := string(e.Previous)
			if was == "" {
				was = "(first check)"
			}
			row(e.At.Format(time.RFC3339), e.Region, e.Model, cmp.Or(e.Principal, "(account)"), string(e.Status), was, e.Cause)
		}
	}
	if err := writeColumns(w, rows, view.width, len(rows[0])-1, model); err != nil {
		return err
	}
	if latest {
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
		return latestProblems(w, entries, view.width)
	}
	return nil
}

// latestProblems writes the latest states as a summary and the problems,
// grouped as a run's table groups them.
func latestProblems(w io.Writer, entries []history.Entry, width int) error {
	results := make([]result.Result, len(entries))
	checks, principals := map[result.Status]int{}, map[result.Status]int{}
	var nChecks, nPrincipals int
	for i, e := range entries {
		results[i] = result.Result{Account: e.Account, Region: e.Region, Model: e.Model, Principal: e.Principal,
			Status: e.Status, Cause: e.Cause, Remediation: e.Remediation}
		if e.Principal == "" {
			checks[e.Status]++
			nChecks++
		} else {
			principals[e.Status]++
			nPrincipals++
		}
	}
	slices.SortStableFunc(results, result.Compare)
	head := []string{fmt.Sprintf("latest state of account %s: %d checks", entries[0].Account, len(entries)),
		fmt.Sprintf("account checks (%d): %s", nChecks, countsText(checks))}
	if nPrincipals > 0 {
		head = append(head, fmt.Sprintf("principal results (%d): %s", nPrincipals, countsText(principals)))
	}
	return problemsTable(w, width, head, results)
}
