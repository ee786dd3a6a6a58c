package config

import (
	"time"
)

// History is where audit results are kept.
type History struct {
	// Table is the DynamoDB table name; empty keeps no history (and sends no alerts).
	Table string `yaml:"table"`
	// Retention is how long records live before DynamoDB's TTL removes them.
	Retention Duration `yaml:"retention"`
}

// Notify is where alerts go.
type Notify struct {
	// TopicARN is the SNS topic; empty sends nothing.
	TopicARN string `yaml:"topic_arn"`
	// ReminderInterval is how long a model may stay not usable before it is alerted again.
	ReminderInterval Duration `yaml:"reminder_interval"`
	// Chat also gives HTTPS subscribers (AWS Chatbot) each message as a
	// chat notification; email and SQS subscribers keep the text.
	Chat bool `yaml:"chat"`
}

// validateHistory checks the table name and the retention.
func (c *Config) validateHistory(bad badFunc) {
	if t := c.History.Table; t != "" && !tableNamePattern.MatchString(t) {
		bad("history.table", "%q is not a DynamoDB table name (3-255 of letters, digits, _ . -)", t)
	}
	if c.History.Retention < Duration(24*time.Hour) {
		bad("history.retention", "%s is shorter than a day", c.History.Retention.Std())
	}
}

// validateNotify checks the topic ARN, that alerts have a history to compare
// with, and the reminder interval.
func (c *Config) validateNotify(bad badFunc) {
	if arn := c.Notify.TopicARN; arn != "" {
		if !topicARNPattern.MatchString(arn) {
			bad("notify.topic_arn", "%q is not an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:grantwatch", arn)
		} else if c.History.Table == "" {
			bad("notify.topic_arn", "alerts need history.table: grantwatch alerts on changes, and changes need the last state")
		}
	}
	within(bad, "notify.reminder_interval", c.Notify.ReminderInterval, time.Hour, 365*24*time.Hour)
}
