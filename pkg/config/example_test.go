package config_test

import (
	"fmt"

	"github.com/grantwatch/grantwatch/pkg/config"
)

func ExampleParse() {
	_, err := config.Parse([]byte(`
accounts: {static: ["12345"]}
regions: [us-east-1]
models: {required: [amazon.nova-pro-v1:0]}
`))
	fmt.Println(err)
	// Output: accounts.static[0]: account id "12345" is not 12 digits
}
