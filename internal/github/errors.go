package github

// AuthError: the GitHub token is missing or rejected. Exit code 4.
type AuthError struct {
	Message string
}

func (e *AuthError) Error() string { return e.Message }

// PolicyError: GitHub refused for policy reasons (admin rights required,
// resource not accessible by integration). Exit code 6.
type PolicyError struct {
	Message string
}

func (e *PolicyError) Error() string { return e.Message }
