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
	"text/tabwriter"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/grantwatch/grantwatch/pkg/config"
	"github.com/grantwatch/grantwatch/pkg/history"
	"github.com/grantwatch/grantwatch/pkg/historyurl"
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
	latest := fs.Bool("latest", false, "show the latest state of every check instead of the changes")
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

	var opts []func(*awsconfig.LoadOptions) error
	if *profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(*profile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
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
		if err := writeEntries(stdout, *output, entries, *latest); err != nil {
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
	if err := writeEntries(stdout, *output, entries, *latest); err != nil {
		return err
	}
	if more && *output == "table" {
		fmt.Fprintf(stdout, "(showing the newest %d; raise --limit or narrow --since for more)\n", len(entries))
	}
	return nil
}

func writeEntries(w io.Writer, format string, entries []history.Entry, latest bool) error {
	switch format {
	case "html":
		account := ""
		if len(entries) > 0 {
			account = entries[0].Account
		}
		return htmlHistory(w, account, entries)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if entries == nil {
			entries = []history.Entry{}
		}
		return enc.Encode(entries)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"at", "run_id", "account", "region", "model", "principal", "status", "previous", "cause", "remediation"})
		for _, e := range entries {
			_ = cw.Write([]string{e.At.Format(time.RFC3339), e.RunID, e.Account, e.Region, e.Model, e.Principal, string(e.Status), string(e.Previous), e.Cause, e.Remediation})
		}
		cw.Flush()
		return cw.Error()
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "no history for this selection")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// The PRINCIPAL column only when principals were evaluated.
	principals := slices.ContainsFunc(entries, func(e history.Entry) bool { return e.Principal != "" })
	model := func(e history.Entry) string {
		if principals {
			return e.Model + "\t" + cmp.Or(e.Principal, "(account)")
		}
		return e.Model
	}
	modelHeader := "MODEL"
	if principals {
		modelHeader = "MODEL\tPRINCIPAL"
	}
	if latest {
		fmt.Fprintf(tw, "REGION\t%s\tSTATUS\tSINCE\tCHECKED\tCAUSE\n", modelHeader)
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Region, model(e), e.Status, e.Since.Format(time.RFC3339), e.At.Format(time.RFC3339), e.Cause)
		}
	} else {
		fmt.Fprintf(tw, "AT\tREGION\t%s\tSTATUS\tWAS\tCAUSE\n", modelHeader)
		for _, e := range entries {
			was := string(e.Previous)
			if was == "" {
				was = "(first check)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Region, model(e), e.Status, was, e.Cause)
		}
	}
	return tw.Flush()
}
