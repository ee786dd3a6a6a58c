package main

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// AuditorRoleName is the auditor function's role name: fixed, so that the
// member role in every account can trust exactly it.
const AuditorRoleName = "GrantwatchAuditor"

// Settings are what the stacks are built from: the grantwatch configuration
// file and the CDK context (cdk.json or `cdk deploy -c key=value`).
type Settings struct {
	Config     *config.Config
	ConfigFile string
	// OrganizationID limits the member role's trust, the auditor's AssumeRole
	// and the history URL to the organization.
	OrganizationID string
	// ManagementAccountID owns the organization's ARNs (roots, OUs, accounts).
	ManagementAccountID string
	// AuditAccountID is where the audit stack lives; the member role trusts its auditor role.
	AuditAccountID     string
	Schedule           string
	AlertEmails        []string
	KMS                bool
	DeletionProtection bool
	LogRetention       awslogs.RetentionDays
	GovernanceReaders  []string
	// SecurityHub lets the auditor import findings into this account's
	// Security Hub (grantwatch:securityHub, or securityhub.enabled).
	SecurityHub bool
	// Sharded runs each scheduled run on a Step Functions state machine,
	// batches of BatchAccounts accounts in a Distributed Map, MapConcurrency
	// at a time (grantwatch:sharded, for large organizations).
	Sharded        bool
	BatchAccounts  int
	MapConcurrency int
	// ReservedConcurrency reserves the functions' concurrency (the auditor's
	// AuditorConcurrency, the history function's HistoryConcurrency); off
	// unless asked for or ConcurrencyQuota is given and they fit in it
	// (grantwatch:reservedConcurrency). ConcurrencyQuota is the concurrency
	// the account's functions may use in the stack's region: its
	// unreserved concurrency (get-account-settings'
	// UnreservedConcurrentExecutions), which is what Lambda measures a
	// reservation against (ledger: LAM-unreserved-minimum)
	// (grantwatch:lambdaConcurrencyQuota, default 1,000: AWS's default quota).
	ReservedConcurrency bool
	ConcurrencyQuota    int
	// Remediation adds the opt-in GrantwatchRemediate role (remediation_role.go).
	Remediation RemediationSettings
}

// UnreservedMinimum is the concurrency Lambda keeps unreserved in every
// account and region: reservations may take the quota less this (ledger:
// LAM-unreserved-minimum).
const UnreservedMinimum = 100

// DefaultConcurrencyQuota is Lambda's default concurrent executions quota;
// new accounts often have less (ledger: LAM-concurrency-quota).
const DefaultConcurrencyQuota = 1000

// AuditorConcurrency is how many auditor invocations a run has at once: one,
// or a sharded run's batches at once plus its first and last steps (a
// second execution's Start finds the run busy).
func (s *Settings) AuditorConcurrency() int {
	if s.Sharded {
		return s.MapConcurrency + 2
	}
	return 1
}

// Reserved is what the stack reserves: the auditor's and the history
// function's concurrency when ReservedConcurrency is on, else nothing.
func (s *Settings) Reserved() int {
	if !s.ReservedConcurrency {
		return 0
	}
	return s.AuditorConcurrency() + HistoryConcurrency
}

// The CDK context keys.
const (
	ctxConfig             = "grantwatch:config"
	ctxOrganizationID     = "grantwatch:organizationId"
	ctxManagementAccount  = "grantwatch:managementAccountId"
	ctxAuditAccount       = "grantwatch:auditAccountId"
	ctxSchedule           = "grantwatch:schedule"
	ctxAlertEmails        = "grantwatch:alertEmails"
	ctxKMS                = "grantwatch:kms"
	ctxDeletionProtection = "grantwatch:deletionProtection"
	ctxLogRetentionDays   = "grantwatch:logRetentionDays"
	ctxGovernanceReaders  = "grantwatch:governanceReaders"
	ctxSecurityHub        = "grantwatch:securityHub"
	ctxSharded            = "grantwatch:sharded"
	ctxBatchAccounts      = "grantwatch:batchAccounts"
	ctxMapConcurrency     = "grantwatch:mapConcurrency"
	ctxReservedConc       = "grantwatch:reservedConcurrency"
	ctxConcurrencyQuota   = "grantwatch:lambdaConcurrencyQuota"
)

var (
	orgIDPattern    = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	schedulePattern = regexp.MustCompile(`^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$`)
	retentions      = map[int]awslogs.RetentionDays{
		30: awslogs.RetentionDays_ONE_MONTH, 90: awslogs.RetentionDays_THREE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS,
		365: awslogs.RetentionDays_ONE_YEAR, 731: awslogs.RetentionDays_TWO_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
	}
)

// LoadSettings reads the settings through get, which returns a context value
// ("" when unset). Every error names its context key.
func LoadSettings(get func(key string) string) (*Settings, error) {
	s := &Settings{
		ConfigFile: cmp.Or(get(ctxConfig), "grantwatch.yaml"),
		Schedule:   cmp.Or(get(ctxSchedule), "cron(0 6 * * ? *)"),
		// The alert topic is encrypted with a customer managed key unless
		// turned off explicitly.
		KMS: get(ctxKMS) != "false",
		// Deletion protection is on unless turned off explicitly.
		DeletionProtection:  get(ctxDeletionProtection) != "false",
		OrganizationID:      get(ctxOrganizationID),
		ManagementAccountID: get(ctxManagementAccount),
		AuditAccountID:      get(ctxAuditAccount),
		AlertEmails:         config.List(get(ctxAlertEmails)),
		GovernanceReaders:   config.List(get(ctxGovernanceReaders)),
	}
	cfg, err := config.Load(s.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ctxConfig, err)
	}
	s.Config = cfg
	switch v := get(ctxSecurityHub); v {
	case "true":
		s.SecurityHub = true
	case "", "false":
		s.SecurityHub = cfg.SecurityHub.Enabled
	default:
		return nil, fmt.Errorf("%s: %q: want true or false", ctxSecurityHub, v)
	}
	switch {
	case !orgIDPattern.MatchString(s.OrganizationID):
		return nil, fmt.Errorf("%s: %q is not an organization id such as o-a1b2c3d4e5", ctxOrganizationID, s.OrganizationID)
	case !config.ValidAccountID(s.ManagementAccountID):
		return nil, fmt.Errorf("%s: %q is not a 12-digit account id", ctxManagementAccount, s.ManagementAccountID)
	case !config.ValidAccountID(s.AuditAccountID):
		return nil, fmt.Errorf("%s: %q is not a 12-digit account id", ctxAuditAccount, s.AuditAccountID)
	case !schedulePattern.MatchString(s.Schedule):
		return nil, fmt.Errorf("%s: %q is not a schedule expression such as cron(0 6 * * ? *) or rate(1 day)", ctxSchedule, s.Schedule)
	case cfg.Role.ExternalID == "":
		return nil, fmt.Errorf("%s: role.external_id is empty; the member role requires one", ctxConfig)
	case cfg.Role.ARNTemplate != "":
		return nil, fmt.Errorf("%s: role.arn_template is set; the stacks create the member role by role.name", ctxConfig)
	}
	for _, e := range s.AlertEmails {
		if !strings.Contains(e, "@") {
			return nil, fmt.Errorf("%s: %q is not an email address", ctxAlertEmails, e)
		}
	}
	for _, r := range s.GovernanceReaders {
		if a, err := arn.Parse(r); err != nil || (a.Service != "iam" && a.Service != "sts") {
			return nil, fmt.Errorf("%s: %q is not a principal ARN", ctxGovernanceReaders, r)
		} else if a.Partition != cfg.Partition() {
			return nil, fmt.Errorf("%s: %q is in partition %s; the audited regions are in %s", ctxGovernanceReaders, r, a.Partition, cfg.Partition())
		}
	}
	switch v := get(ctxSharded); v {
	case "true":
		s.Sharded = true
	case "", "false":
	default:
		return nil, fmt.Errorf("%s: %q: want true or false", ctxSharded, v)
	}
	if s.BatchAccounts, err = number(get, ctxBatchAccounts, config.DefaultBatchAccounts, config.MaxBatchAccounts); err != nil {
		return nil, err
	}
	if s.MapConcurrency, err = number(get, ctxMapConcurrency, 10, 1000); err != nil {
		return nil, err
	}
	if s.Remediation, err = loadRemediation(get, cfg); err != nil {
		return nil, err
	}
	if err := s.concurrency(get); err != nil {
		return nil, err
	}
	days, err := strconv.Atoi(cmp.Or(get(ctxLogRetentionDays), "365"))
	if s.LogRetention = retentions[days]; err != nil || s.LogRetention == "" {
		return nil, fmt.Errorf("%s: %q: want one of 30, 90, 180, 365, 731, 3653", ctxLogRetentionDays, get(ctxLogRetentionDays))
	}
	return s, nil
}

// number reads a whole number context value from 1 to max, def when unset.
func number(get func(string) string, key string, def, max int) (int, error) {
	v := get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%s: %q: want a whole number from 1 to %d", key, v, max)
	}
	return n, nil
}

// concurrency reads whether to reserve concurrency and checks that the
// functions fit the account's quota. Reserving is off by default: a fresh
// account may have a quota far below 1,000 (ledger: LAM-concurrency-quota),
// and Lambda refuses a reservation that leaves less than 100 unreserved
// (ledger: LAM-unreserved-minimum), which would fail the deployment. A
// quota given explicitly (the operator read it with `aws lambda
// get-account-settings`) turns it on when the reservations fit. Without
// reservations a duplicate delivery still finds its run claimed (the
// history table's conditional claim); the reservations only keep the
// functions from taking each other's concurrency.
func (s *Settings) concurrency(get func(string) string) error {
	var err error
	if s.ConcurrencyQuota, err = number(get, ctxConcurrencyQuota, DefaultConcurrencyQuota, 10_000_000); err != nil {
		return err
	}
	need := s.AuditorConcurrency() + HistoryConcurrency
	room := s.ConcurrencyQuota - UnreservedMinimum
	switch v := get(ctxReservedConc); v {
	case "true":
		s.ReservedConcurrency = true
	case "false":
	case "":
		s.ReservedConcurrency = get(ctxConcurrencyQuota) != "" && need <= room
	default:
		return fmt.Errorf("%s: %q: want true or false", ctxReservedConc, v)
	}
	switch {
	case s.ReservedConcurrency && need > room && s.Sharded:
		return fmt.Errorf("%s: %d for the auditor (%s %d + 2) and %d for the history function do not fit the account's Lambda concurrency quota of %d (%s; `aws lambda get-account-settings`), of which %d stay unreserved: set %s to at most %d, or %s to false",
			ctxReservedConc, s.AuditorConcurrency(), ctxMapConcurrency, s.MapConcurrency, HistoryConcurrency, s.ConcurrencyQuota, ctxConcurrencyQuota,
			UnreservedMinimum, ctxMapConcurrency, max(room-HistoryConcurrency-2, 0), ctxReservedConc)
	case s.ReservedConcurrency && need > room:
		return fmt.Errorf("%s: %d for the auditor and %d for the history function do not fit the account's Lambda concurrency quota of %d (%s; `aws lambda get-account-settings`), of which %d stay unreserved: set %s to false, or raise the quota",
			ctxReservedConc, s.AuditorConcurrency(), HistoryConcurrency, s.ConcurrencyQuota, ctxConcurrencyQuota, UnreservedMinimum, ctxReservedConc)
	case s.Sharded && s.AuditorConcurrency() > s.ConcurrencyQuota:
		return fmt.Errorf("%s: %d batches at once, plus the run's first and last steps, exceed the account's Lambda concurrency quota of %d (%s; `aws lambda get-account-settings`): set %s to at most %d",
			ctxMapConcurrency, s.MapConcurrency, s.ConcurrencyQuota, ctxConcurrencyQuota, ctxMapConcurrency, s.ConcurrencyQuota-2)
	}
	return nil
}
