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
	// Remediation adds the opt-in GrantwatchRemediate role (remediation_role.go).
	Remediation RemediationSettings
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
	if s.BatchAccounts, err = number(get, ctxBatchAccounts, 50, 1000); err != nil {
		return nil, err
	}
	if s.MapConcurrency, err = number(get, ctxMapConcurrency, 10, 1000); err != nil {
		return nil, err
	}
	if s.Remediation, err = loadRemediation(get, cfg); err != nil {
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
