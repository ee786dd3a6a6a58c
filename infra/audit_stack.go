package main

import (
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// AuditStackProps configure the stack of the audit account.
type AuditStackProps struct {
	awscdk.StackProps
	Settings *Settings
	// AuditorCode and HistoryCode are the functions' built assets (a
	// bootstrap binary; the auditor's also holds grantwatch.yaml).
	AuditorCode, HistoryCode awslambda.Code
}

// NewAuditStack defines the audit account's resources: the history table,
// the alert topic, the scheduled auditor function, the history URL and their
// alarms, each role holding only what its function calls.
func NewAuditStack(scope constructs.Construct, id string, props *AuditStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := props.Settings

	table := awsdynamodb.NewTable(stack, jsii.String("History"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("expires_at"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(s.DeletionProtection),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String("gsi1"),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String("gsi1pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String("gsi1sk"), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})

	var key awskms.Key
	topicProps := &awssns.TopicProps{EnforceSSL: jsii.Bool(true), DisplayName: jsii.String("grantwatch alerts")}
	if s.KMS {
		key = awskms.NewKey(stack, jsii.String("AlertsKey"), &awskms.KeyProps{
			EnableKeyRotation: jsii.Bool(true),
			Description:       jsii.String("grantwatch alert topic"),
		})
		// CloudWatch alarms publish to the topic too, and need the key.
		// aws:SourceAccount keeps other accounts' alarms from using the key
		// through the service (the confused-deputy problem).
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": *stack.Account()}},
		}), nil)
		topicProps.MasterKey = key
	}
	topic := awssns.NewTopic(stack, jsii.String("Alerts"), topicProps)
	for _, e := range s.AlertEmails {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
	}

	dlq := awssqs.NewQueue(stack, jsii.String("FailedRuns"), &awssqs.QueueProps{
		EnforceSSL:      jsii.Bool(true),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the schedule and of the auditor's on-failure destination; a dead-letter queue for it would only move the same messages again."),
	}}, jsii.Bool(true))

	auditorFn := newAuditor(stack, s, props.AuditorCode, table, topic, key, dlq)
	var sharded awsstepfunctions.StateMachine
	if s.Sharded {
		sharded = newShardedRun(stack, s, auditorFn)
	}
	newSchedule(stack, s, auditorFn, sharded, dlq)
	alarms := newAlarms(stack, auditorFn, sharded, dlq, topic)
	newDashboard(stack, s, alarms)
	historyURL := newHistory(stack, s, props.HistoryCode, table)

	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{Value: table.TableName()})
	awscdk.NewCfnOutput(stack, jsii.String("TopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn()})
	awscdk.NewCfnOutput(stack, jsii.String("HistoryUrl"), &awscdk.CfnOutputProps{Value: historyURL.Url()})
	awscdk.NewCfnOutput(stack, jsii.String("AuditorRoleArn"), &awscdk.CfnOutputProps{Value: auditorFn.Role().RoleArn()})
	return stack
}

// functionRole is a role for one function that may write only its own log group.
func functionRole(stack awscdk.Stack, id, name string, logs awslogs.LogGroup, statements ...awsiam.PolicyStatement) awsiam.Role {
	statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn() + ":*"),
	}))
	props := &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"Least": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
		},
	}
	if name != "" {
		props.RoleName = jsii.String(name)
	}
	role := awsiam.NewRole(stack, jsii.String(id), props)
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Log streams are created at run time with names Lambda chooses; the grant is limited to the function's own log group."),
		AppliesTo: &[]interface{}{"Resource::<" + *stack.GetLogicalId(logs.Node().DefaultChild().(awscdk.CfnElement)) + ".Arn>:*"},
	}}, jsii.Bool(true))
	return role
}

// newAuditor is the scheduled auditor function, with its log group, its
// role (auditorRole) and its asynchronous retries.
func newAuditor(stack awscdk.Stack, s *Settings, code awslambda.Code, table awsdynamodb.Table, topic awssns.Topic, key awskms.Key, dlq awssqs.Queue) awslambda.Function {
	logs := awslogs.NewLogGroup(stack, jsii.String("AuditorLogs"), &awslogs.LogGroupProps{
		Retention: s.LogRetention, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := auditorRole(stack, s, logs, table, topic, key, dlq)

	fn := newFunction(stack, "Auditor", &awslambda.FunctionProps{
		Description: jsii.String("grantwatch: audits Bedrock model access across the organization"),
		Code:        code,
		Role:        role,
		MemorySize:  jsii.Number(512),
		Timeout:     awscdk.Duration_Minutes(jsii.Number(15)),
		LogGroup:    logs,
		Environment: &map[string]*string{
			config.EnvConfig:        jsii.String("/var/task/grantwatch.yaml"),
			config.EnvTable:         table.TableName(),
			config.EnvTopic:         topic.TopicArn(),
			config.EnvSecurityHub:   jsii.String(strconv.FormatBool(s.SecurityHub)),
			config.EnvBatchAccounts: jsii.String(strconv.Itoa(s.BatchAccounts)),
		},
		// The run's invocations at once (Settings.AuditorConcurrency): a
		// duplicate delivery waits (Lambda retries throttled asynchronous
		// events) and then finds the run done.
		ReservedConcurrentExecutions: reserve(s, s.AuditorConcurrency()),
	})
	// EventBridge Scheduler invokes asynchronously: its retry policy covers
	// only the Invoke call. Once Lambda has the event, these retries decide:
	// a crashed or timed-out invocation is retried (after its deadline, when
	// its lease has run out) with the same event, so the same run id, and
	// the retry resumes the run. One that fails every attempt lands in the
	// dead-letter queue. (The L1 resource: the role grants the destination
	// itself, above.)
	awslambda.NewCfnEventInvokeConfig(stack, jsii.String("AuditorInvokeConfig"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName: fn.FunctionName(), Qualifier: jsii.String("$LATEST"),
		MaximumRetryAttempts: jsii.Number(2), MaximumEventAgeInSeconds: jsii.Number(3600),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: dlq.QueueArn()},
		},
	})
	return fn
}

// newSchedule starts each run: the auditor function, or the sharded run's
// state machine when there is one.
func newSchedule(stack awscdk.Stack, s *Settings, fn awslambda.Function, sharded awsstepfunctions.StateMachine, dlq awssqs.Queue) {
	// The target grants this role the invocation and the dead-letter queue.
	role := awsiam.NewRole(stack, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil).WithConditions(&map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": *stack.Account()},
		}),
	})
	props := &awsschedulertargets.ScheduleTargetBaseProps{
		Role: role,
		// The scheduled time makes the run id: a retried delivery is the same run.
		Input:           awsscheduler.ScheduleTargetInput_FromObject(map[string]any{"scheduled_time": awsscheduler.ContextAttribute_ScheduledTime()}),
		RetryAttempts:   jsii.Number(2),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(1)),
		DeadLetterQueue: dlq,
	}
	var target awsscheduler.IScheduleTarget = awsschedulertargets.NewLambdaInvoke(fn, props)
	if sharded != nil {
		// A second execution of the same run finds it busy and stops.
		target = awsschedulertargets.NewStepFunctionsStartExecution(sharded, props)
	}
	awsscheduler.NewSchedule(stack, jsii.String("Schedule"), &awsscheduler.ScheduleProps{
		Description: jsii.String("grantwatch audit run"),
		Schedule:    awsscheduler.ScheduleExpression_Expression(jsii.String(s.Schedule), nil),
		TimeWindow:  awsscheduler.TimeWindow_Off(),
		Target:      target,
	})
	if sharded != nil {
		return
	}
	// After the schedule: the grants it makes create the role's policy.
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("The scheduler target grants lambda:InvokeFunction on the auditor and its versions and aliases (ARN:*); all of them are this one function."),
		AppliesTo: &[]interface{}{"Resource::<" + *stack.GetLogicalId(fn.Node().DefaultChild().(awscdk.CfnElement)) + ".Arn>:*"},
	}}, jsii.Bool(true))
}

func newAlarms(stack awscdk.Stack, fn awslambda.Function, sharded awsstepfunctions.StateMachine, dlq awssqs.Queue, topic awssns.Topic) []awscloudwatch.IAlarm {
	notify := awscloudwatchactions.NewSnsAction(topic)
	var alarms []awscloudwatch.IAlarm
	alarm := func(id, description string, metric awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(notify)
		alarms = append(alarms, a)
	}
	hour := awscdk.Duration_Hours(jsii.Number(1))
	alarm("AuditorErrors", "The grantwatch auditor function failed.", fn.MetricErrors(&awscloudwatch.MetricOptions{Period: hour, Statistic: jsii.String("Sum")}))
	alarm("RunsIncomplete", "A grantwatch run ended before every check was done (deadline), or failed (discovery, configuration, storing its results).",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("incomplete + failed"),
			Period:     hour,
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"incomplete": runMetric(config.MetricRunsIncomplete, hour),
				"failed":     runMetric(config.MetricRunsFailed, hour),
			},
		}))
	alarm("DiscoveryFailed", "grantwatch could not read AWS Organizations: the run audited at most the static accounts.",
		runMetric(config.MetricDiscoveryFailed, hour))
	alarm("AlertsUnpublished", "grantwatch could not publish some alerts to SNS; the next run sends them again.",
		runMetric(config.MetricAlertsUnpublished, hour))
	alarm("FailedInvocations", "A scheduled grantwatch invocation failed for good and is in the dead-letter queue.",
		dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}))
	if sharded != nil {
		sum := &awscloudwatch.MetricOptions{Period: hour, Statistic: jsii.String("Sum")}
		alarm("ShardedRunsFailed", "A grantwatch sharded run's state machine execution failed, timed out or was aborted: its run record may still say RUNNING until the next run's sweep.",
			awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String("failed + timedout + aborted"),
				Period:     hour,
				UsingMetrics: &map[string]awscloudwatch.IMetric{
					"failed": sharded.MetricFailed(sum), "timedout": sharded.MetricTimedOut(sum), "aborted": sharded.MetricAborted(sum),
				},
			}))
	}
	return alarms
}

// newDashboard shows the runs over the last two weeks, from the metrics the
// auditor emits (their names are pkg/config's constants, as the alarms'
// are), and the state of every alarm. With a remediation section, the
// auditor emits Remediable too (functions/auditor), and the dashboard
// shows it.
func newDashboard(stack awscdk.Stack, s *Settings, alarms []awscloudwatch.IAlarm) {
	day := awscdk.Duration_Days(jsii.Number(1))
	refs := make([]interfacesawscloudwatch.IAlarmRef, len(alarms))
	for i, a := range alarms {
		refs[i] = a
	}
	graph := func(title string, names ...string) awscloudwatch.IWidget {
		var metrics []awscloudwatch.IMetric
		for _, n := range names {
			m := runMetric(n, day)
			if n == config.MetricRemediable {
				// A backlog, not events: each run counts it whole, so
				// a day's Sum would add it once per run.
				m = m.With(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum")})
			}
			metrics = append(metrics, m)
		}
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &metrics, Width: jsii.Number(12), Height: jsii.Number(6),
		})
	}
	rows := []*[]awscloudwatch.IWidget{
		{
			graph("Checks done and not usable (per day)", config.MetricChecksDone, config.MetricNotUsable),
			graph("Audit errors (per day)", config.MetricAuditErrors),
		},
		{
			graph("Incomplete and failed runs (per day)", config.MetricRunsIncomplete, config.MetricRunsFailed, config.MetricDiscoveryFailed),
			graph("Alerts published and held back (per day)", config.MetricAlertsPublished, config.MetricAlertsUnpublished),
		},
	}
	if r := s.Config.Remediation; r != nil {
		title := "Remediable: what grantwatch fix would do (largest of the day; remediation.auto is off)"
		if r.Auto {
			title = "Remediable: what each run planned to fix, then applied (largest of the day; remediation.auto)"
		}
		rows = append(rows, &[]awscloudwatch.IWidget{graph(title, config.MetricRemediable)})
	}
	rows = append(rows, &[]awscloudwatch.IWidget{
		awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Alarms: &refs, Width: jsii.Number(24), Height: jsii.Number(4),
		}),
	})
	awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String("grantwatch"),
		DefaultInterval: awscdk.Duration_Days(jsii.Number(14)),
		Widgets:         &rows,
	})
}

func runMetric(name string, period awscdk.Duration) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(config.MetricNamespace), MetricName: jsii.String(name),
		Statistic: jsii.String("Sum"), Period: period,
	})
}

// newFunction defines one of grantwatch's functions: a Go bootstrap binary
// on provided.al2023, arm64, logging JSON. props holds what differs.
func newFunction(stack awscdk.Stack, id string, props *awslambda.FunctionProps) awslambda.Function {
	props.Runtime = awslambda.Runtime_PROVIDED_AL2023()
	props.Architecture = awslambda.Architecture_ARM_64()
	props.Handler = jsii.String("bootstrap")
	props.LoggingFormat = awslambda.LoggingFormat_JSON
	return awslambda.NewFunction(stack, jsii.String(id), props)
}

// HistoryConcurrency is the history function's reserved concurrency, when
// Settings.ReservedConcurrency.
const HistoryConcurrency = 10

// reserve is a function's reserved concurrency: n when the settings reserve
// concurrency, else none (nil: the function uses the unreserved pool).
func reserve(s *Settings, n int) *float64 {
	if !s.ReservedConcurrency {
		return nil
	}
	return jsii.Number(float64(n))
}

func newHistory(stack awscdk.Stack, s *Settings, code awslambda.Code, table awsdynamodb.Table) awslambda.FunctionUrl {
	logs := awslogs.NewLogGroup(stack, jsii.String("HistoryLogs"), &awslogs.LogGroupProps{
		Retention: s.LogRetention, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := functionRole(stack, "HistoryRole", "", logs, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadHistory"),
		Actions:   jsii.Strings("dynamodb:Query"),
		Resources: jsii.Strings(*table.TableArn(), *table.TableArn()+"/index/gsi1"),
	}))
	fn := newFunction(stack, "HistoryApi", &awslambda.FunctionProps{
		Description: jsii.String("grantwatch: account owners read their account's audit history"),
		Code:        code,
		Role:        role,
		MemorySize:  jsii.Number(256),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(30)),
		LogGroup:    logs,
		// Reads through the URL can never take the account's concurrency
		// from the auditor.
		ReservedConcurrentExecutions: reserve(s, HistoryConcurrency),
		Environment: &map[string]*string{
			config.EnvTable:   table.TableName(),
			config.EnvReaders: jsii.String(strings.Join(s.GovernanceReaders, ",")),
		},
	})
	url := fn.AddFunctionUrl(&awslambda.FunctionUrlOptions{AuthType: awslambda.FunctionUrlAuthType_AWS_IAM})
	// Any principal of the organization may call the URL (the function then
	// lets it read its own account only). Function URLs created since
	// October 2025 need both actions.
	fn.AddPermission(jsii.String("HistoryUrlInOrg"), &awslambda.Permission{
		Action: jsii.String("lambda:InvokeFunctionUrl"), Principal: awsiam.NewAnyPrincipal(),
		OrganizationId: jsii.String(s.OrganizationID), FunctionUrlAuthType: awslambda.FunctionUrlAuthType_AWS_IAM,
	})
	fn.AddPermission(jsii.String("HistoryInvokeViaUrlInOrg"), &awslambda.Permission{
		Action: jsii.String("lambda:InvokeFunction"), Principal: awsiam.NewAnyPrincipal(),
		OrganizationId: jsii.String(s.OrganizationID), InvokedViaFunctionUrl: jsii.Bool(true),
	})
	return url
}
