// Package devtools groups what development needs and the product does not
// ship: the AWS simulator (awssim), the local stand-ins the demo and the
// tests start (localenv), the test environment (testenv) and the check that
// a generated section of a docs/ page matches the code (docsection). The goaws
// command the stand-ins run lives in cmd/devtools/goaws.
//
// Only the demo links awssim and localenv into a product binary;
// TestProductBinariesDoNotLinkTheTestEnvironment keeps testenv and the
// testing package out of all of them.
package devtools
