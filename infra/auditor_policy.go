package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// auditorRole is the auditor function's role and its one inline policy:
// assume the member role inside the organization, walk the organization,
// write the history table, publish alerts (and use their key), dead-letter a
// failed run and, when enabled, import and resolve Security Hub findings;
// with the cdk-nag reasons for its wildcards. key may be nil.
func auditorRole(stack awscdk.Stack, s *Settings, logs awslogs.LogGroup, table awsdynamodb.Table, topic awssns.Topic, key awskms.Key, dlq awssqs.Queue) awsiam.Role {
	org := s.OrganizationID
	partition := *stack.Partition()
	// The organization's roots, OUs and accounts are ARNs of its management
	// account. ledger: ORG-arns
	orgARN := func(resource, name string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("organizations"), Region: jsii.String(""),
			Account: jsii.String(s.ManagementAccountID), Resource: jsii.String(resource), ResourceName: jsii.String(name)})
	}
	roots, ous, accounts := orgARN("root", org+"/r-*"), orgARN("ou", org+"/ou-*"), orgARN("account", org+"/*")
	memberRoles := *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""),
		Account: jsii.String("*"), Resource: jsii.String("role"), ResourceName: jsii.String(s.Config.Role.Name)})
	// cdk-nag names the partition token <AWS::Partition> in what a suppression applies to.
	nagged := func(arn string) string { return "Resource::" + strings.ReplaceAll(arn, partition, "<AWS::Partition>") }
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AssumeMemberRoleInOrg"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(memberRoles),
			Conditions: &map[string]interface{}{
				// ledger: IAM-resource-org-id
				"StringEquals": map[string]interface{}{"aws:ResourceOrgID": org},
			},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ListRoots"),
			Actions:   jsii.Strings("organizations:ListRoots"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("WalkTheOrganization"),
			Actions:   jsii.Strings("organizations:ListChildren", "organizations:ListAccountsForParent"),
			Resources: jsii.Strings(roots, ous),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadAccountTags"),
			Actions:   jsii.Strings("organizations:ListTagsForResource"),
			Resources: jsii.Strings(accounts),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("WriteHistory"),
			Actions:   jsii.Strings("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"),
			Resources: jsii.Strings(*table.TableArn(), *table.TableArn()+"/index/gsi1"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("PublishAlerts"),
			Actions:   jsii.Strings("sns:Publish"),
			Resources: jsii.Strings(*topic.TopicArn()),
		}),
		// Lambda sends a failed asynchronous event to the on-failure
		// destination with the function's role, which needs this one
		// action (ledger: LAM-destination-permission); CDK's queue grant
		// would add GetQueueAttributes and GetQueueUrl, which nothing calls.
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("DeadLetterFailedRuns"),
			Actions:   jsii.Strings("sqs:SendMessage"),
			Resources: jsii.Strings(*dlq.QueueArn()),
		}),
	}
	// With a remediation section the scheduled run assumes the opt-in
	// remediation role too (pkg/job, remediation.go): to plan (offers, the
	// form) and, with remediation.auto, to apply. Without one, no grant.
	var remediationRoles string
	if r := s.Config.Remediation; r != nil {
		remediationRoles = *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""),
			Account: jsii.String("*"), Resource: jsii.String("role"), ResourceName: jsii.String(r.RoleName)})
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AssumeRemediationRoleInOrg"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(remediationRoles),
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:ResourceOrgID": org},
			},
		}))
	}
	if key != nil {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("EncryptAlerts"),
			Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
			Resources: jsii.Strings(*key.KeyArn()),
		}))
	}
	if s.SecurityHub {
		// BatchImportFindings takes the product resource, BatchUpdateFindings
		// the hub (Service Authorization Reference, AWS Security Hub); both
		// this account's own, in this region (see pkg/securityhub).
		statements = append(statements,
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:     jsii.String("ImportFindings"),
				Actions: jsii.Strings("securityhub:BatchImportFindings"),
				Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("securityhub"),
					Resource: jsii.String("product"), ResourceName: jsii.String(*stack.Account() + "/default"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:     jsii.String("ResolveFindings"),
				Actions: jsii.Strings("securityhub:BatchUpdateFindings"),
				Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("securityhub"),
					Resource: jsii.String("hub"), ResourceName: jsii.String("default"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})),
			}))
	}
	role := functionRole(stack, "AuditorRole", AuditorRoleName, logs, statements...)
	iam5 := func(reason string, appliesTo ...interface{}) *cdknag.NagPackSuppression {
		return &cdknag.NagPackSuppression{Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String(reason), AppliesTo: &appliesTo}
	}
	memberRoleARNs := []interface{}{nagged(memberRoles)}
	if remediationRoles != "" {
		memberRoleARNs = append(memberRoleARNs, nagged(remediationRoles))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{
		iam5("The member roles have the same name in every account of the organization, so the account is a wildcard; aws:ResourceOrgID keeps them inside the organization.",
			memberRoleARNs...),
		iam5("organizations:ListRoots supports no resource-level permissions.", "Resource::*"),
		iam5("Roots, OUs and accounts are found at run time; the grant is limited to this organization's ARNs.",
			nagged(roots), nagged(ous), nagged(accounts)),
	}, jsii.Bool(true))
	return role
}
