package dce

// AuthError: Discord rejected the token (DCE printed "Authentication token
// is invalid.", or an inner dcehost run exited 4). The host retries once
// after reloading the token; alone it maps to exit code 4.
type AuthError struct {
	Message string
}

func (e *AuthError) Error() string {
	if e.Message == "" {
		return "discord rejected the token"
	}
	return "discord rejected the token: " + e.Message
}
