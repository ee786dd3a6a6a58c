package result

import "slices"

// Severity is how loudly a status is alerted: the SNS "severity" attribute,
// and whether the command line exits 1 for it.
type Severity string

// The severities, from loudest to silent.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
	// Ignore records the status in history but never alerts about it.
	Ignore Severity = "ignore"
)

// SeverityLevels lists the severities from loudest to silent.
var SeverityLevels = []Severity{Critical, Warning, Info, Ignore}

// Rank orders severities: critical 3, warning 2, info 1, ignore 0.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// Alerts reports whether the status is alerted at all.
func (s Severity) Alerts() bool { return s.Rank() > 0 }

// Fails reports whether the status makes the command line exit 1.
func (s Severity) Fails() bool { return s.Rank() >= Warning.Rank() }

// Severities maps statuses to their configured severity; statuses left out
// keep their default.
type Severities map[Status]Severity

// For is the severity of one result: its own override, else its status's.
// A principal's result with an account-level problem is not alerted for the
// principal: the account's own result carries that problem.
func (m Severities) For(r Result) Severity {
	switch {
	case r.IsCritical():
		return Critical
	case r.Principal != "" && !r.Status.Usable() && r.Status != AuditError && !slices.Contains(PrincipalStatuses, r.Status):
		return Ignore
	}
	return m.Of(r.Status)
}

// Of returns the severity of a not-usable status. A usable one is info: it
// is only ever alerted as resolved.
func (m Severities) Of(s Status) Severity {
	if s.Usable() {
		return Info
	}
	if v, ok := m[s]; ok {
		return v
	}
	if v, ok := defaultSeverity[s]; ok {
		return v
	}
	return Critical
}
