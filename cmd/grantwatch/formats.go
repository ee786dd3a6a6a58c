package main

// outputFormat is one --output value of run and demo, and whether history
// writes it too.
type outputFormat struct {
	Name    string
	History bool
}

// outputFormats is the one list of output formats: run and demo write every
// one (writeReport), history those marked (writeEntries). The flags, the
// usage texts and the docs test read the lists derived from it; a format
// added here and not to the writers fails TestEveryFormatIsWritten.
var outputFormats = []outputFormat{
	{Name: "table", History: true},
	{Name: "json", History: true},
	{Name: "csv", History: true},
	{Name: "markdown"},
	{Name: "html", History: true},
	{Name: "asff"},
}

// formats are the output formats of run and demo.
var formats = formatNames(false)

// historyFormats are the output formats history writes.
var historyFormats = formatNames(true)

func formatNames(historyOnly bool) []string {
	var names []string
	for _, f := range outputFormats {
		if f.History || !historyOnly {
			names = append(names, f.Name)
		}
	}
	return names
}
