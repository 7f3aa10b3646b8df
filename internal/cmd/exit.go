package cmd

import "errors"

// exitError carries an exit code other than 1 (diff: 1 means changes, 2 an
// error). A silent one has been reported already (diff printed the
// changes): main prints no error line for it.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the process exit code for an error returned by a command.
func ExitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// Silent says that err only carries an exit code: the command has said
// everything already, and main prints nothing more.
func Silent(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.silent
}
