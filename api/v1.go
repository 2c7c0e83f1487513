package api

// RegisterV1 registers the people-facing v1 API: organisations, members,
// API keys, the organisation's resources and the OpenAPI document.
func RegisterV1(r *Router) {
	r.registerOrgs()
	r.registerMembers()
	r.registerAPIKeys()
	r.registerLegacySecrets()
	r.registerAlerts()
	r.registerNotifications()
	r.registerManualChecks()
	r.registerRecords()
	r.registerData()
	r.registerDigests()
	r.registerEvents()
	r.registerBilling()
	r.registerSignoffs()
	r.registerMe()
	r.registerInspectorLinks()
	r.registerAudit()
	for _, res := range r.resources() {
		r.register(res)
	}
}
