package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// MemberRoleStackProps configure the audit role deployed in every account.
type MemberRoleStackProps struct {
	awscdk.StackProps
	Settings *Settings
}

// BedrockReadActions are the only calls grantwatch makes in a member account.
var BedrockReadActions = []string{"bedrock:GetFoundationModelAvailability", "bedrock:ListFoundationModels"}

// NewMemberRoleStack defines the read-only audit role. Deploy it to every
// account with a service-managed StackSet (see the README). It trusts only
// the auditor role of the audit account, and only with the ExternalId and
// from inside the organization.
func NewMemberRoleStack(scope constructs.Construct, id string, props *MemberRoleStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := props.Settings
	auditor := awsiam.NewArnPrincipal(jsii.String("arn:aws:iam::" + s.AuditAccountID + ":role/" + AuditorRoleName)).
		WithConditions(&map[string]interface{}{
			"StringEquals": map[string]interface{}{
				"sts:ExternalId":     s.Config.Role.ExternalID,
				"aws:PrincipalOrgID": s.OrganizationID,
			},
		})
	role := awsiam.NewRole(stack, jsii.String("AuditRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(s.Config.Role.Name),
		Description:        jsii.String("grantwatch reads Bedrock model access here: ListFoundationModels and GetFoundationModelAvailability only"),
		AssumedBy:          auditor,
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"BedrockModelAccessRead": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings(BedrockReadActions...),
					Resources: jsii.Strings("*"),
				})},
			}),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("bedrock:ListFoundationModels and bedrock:GetFoundationModelAvailability support no resource-level permissions: the Service Authorization Reference lists no resource type for them, so only \"*\" works."),
		AppliesTo: &[]interface{}{"Resource::*"},
	}}, jsii.Bool(true))
	awscdk.NewCfnOutput(stack, jsii.String("AuditRoleArn"), &awscdk.CfnOutputProps{Value: role.RoleArn()})
	return stack
}
