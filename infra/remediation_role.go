package main

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
)

// The context keys of the opt-in remediation role.
const (
	// ctxRemediation adds the GrantwatchRemediate role to the member stack
	// (true/false, default false).
	ctxRemediation = "grantwatch:remediation"
	// ctxRemediationProductIDs limits aws-marketplace:Subscribe to these
	// Marketplace product ids (comma-separated), with the
	// aws-marketplace:ProductId condition key.
	ctxRemediationProductIDs = "grantwatch:remediationProductIds"
)

// RemediationSettings are the remediation role's: whether the member stack
// has it, its name, and the product ids it may subscribe to (none: any).
type RemediationSettings struct {
	Enabled    bool
	RoleName   string
	ProductIDs []string
}

var productIDPattern = regexp.MustCompile(`^[a-z0-9-]{8,64}$`)

// loadRemediation reads the remediation role's context keys; the role's
// name comes from remediation.role_name.
func loadRemediation(get func(string) string, cfg *config.Config) (RemediationSettings, error) {
	r := RemediationSettings{RoleName: config.DefaultRemediationRole, ProductIDs: config.List(get(ctxRemediationProductIDs))}
	if cfg.Remediation != nil {
		r.RoleName = cfg.Remediation.RoleName
		if len(r.ProductIDs) == 0 {
			r.ProductIDs = productIDs(cfg.Remediation.Agreements)
		}
	}
	switch v := get(ctxRemediation); v {
	case "true":
		r.Enabled = true
	case "", "false":
	default:
		return r, fmt.Errorf("%s: %q: want true or false", ctxRemediation, v)
	}
	for _, id := range r.ProductIDs {
		if !productIDPattern.MatchString(id) {
			return r, fmt.Errorf("%s: %q is not an AWS Marketplace product id", ctxRemediationProductIDs, id)
		}
	}
	if r.RoleName == cfg.Role.Name {
		return r, fmt.Errorf("%s: remediation.role_name %q is the audit role's name; the audit role stays read-only", ctxConfig, r.RoleName)
	}
	return r, nil
}

// productIDs are the Marketplace product ids of the models agreements may
// be created for, when the user guide's list has every one of them (ledger
// MP-product-id); else none, and Subscribe is not narrowed.
func productIDs(p *config.AgreementPolicy) []string {
	if p == nil {
		return nil
	}
	var ids []string
	for _, m := range p.Models {
		id, ok := check.MarketplaceProductID(config.AgreementModel(m))
		if !ok {
			return nil
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// The remediation role's permissions. None of these Bedrock actions takes
// a resource type (Service Authorization Reference, Amazon Bedrock; ledger
// BR-agreement-actions for the write and offer actions), so they need "*"; aws-marketplace:Subscribe is the one that can be narrowed,
// by aws-marketplace:ProductId (Bedrock user guide,
// model-access-permissions; ledger MP-product-id). Creating an agreement
// needs Subscribe, and reading subscriptions ViewSubscriptions (the
// guide's "request access to models with a product ID"; ledger
// MP-remediation-actions); Unsubscribe, which the guide asks of a principal
// whose first call subscribes (MP-three-actions), is not granted: the role
// never cancels, and may not delete agreements: undoing is a person's
// decision.
var (
	RemediationWriteActions = []string{"bedrock:CreateFoundationModelAgreement", "bedrock:PutUseCaseForModelAccess"}
	RemediationReadActions  = []string{"bedrock:GetFoundationModelAvailability", "bedrock:GetUseCaseForModelAccess", "bedrock:ListFoundationModelAgreementOffers"}
	MarketplaceViewActions  = []string{"aws-marketplace:ViewSubscriptions"}
	MarketplaceSubscribe    = []string{"aws-marketplace:Subscribe"}
)

// addRemediationRole adds the opt-in write role to the member stack, with
// the audit role's trust (the auditor's role ARN, the ExternalId, the
// organization).
func addRemediationRole(stack awscdk.Stack, r RemediationSettings, trust awsiam.IPrincipal) awsiam.Role {
	subscribe := &awsiam.PolicyStatementProps{Actions: jsii.Strings(MarketplaceSubscribe...), Resources: jsii.Strings("*")}
	if len(r.ProductIDs) > 0 {
		subscribe.Conditions = &map[string]interface{}{
			// AWS's own examples use ForAnyValue:StringEquals on this key
			// (ledger IAM-fixture-marketplace-product, MP-product-id).
			"ForAnyValue:StringEquals": map[string]interface{}{"aws-marketplace:ProductId": r.ProductIDs},
		}
	}
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(append(append([]string{}, RemediationWriteActions...), RemediationReadActions...)...), Resources: jsii.Strings("*")}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(MarketplaceViewActions...), Resources: jsii.Strings("*")}),
		awsiam.NewPolicyStatement(subscribe),
	}
	role := awsiam.NewRole(stack, jsii.String("RemediationRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(r.RoleName),
		Description:        jsii.String("grantwatch fix: creates Marketplace agreements for Bedrock models and submits the Anthropic use-case form, only as the remediation section allows; no IAM, no deletes"),
		AssumedBy:          trust,
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"BedrockModelAccessRemediate": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("bedrock:CreateFoundationModelAgreement, PutUseCaseForModelAccess, ListFoundationModelAgreementOffers, GetFoundationModelAvailability, GetUseCaseForModelAccess and aws-marketplace:ViewSubscriptions support no resource-level permissions (Service Authorization Reference), so only \"*\" works; aws-marketplace:Subscribe is narrowed by aws-marketplace:ProductId to the allowed models' product ids when they are known or given."),
		AppliesTo: &[]interface{}{"Resource::*"},
	}}, jsii.Bool(true))
	awscdk.NewCfnOutput(stack, jsii.String("RemediationRoleArn"), &awscdk.CfnOutputProps{Value: role.RoleArn()})
	return role
}
