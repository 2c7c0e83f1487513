package seedimport

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// The mapping from the seed's rows to FreshTrack's (SEED-SYSTEM.md §3.2): a
// pure function of the seed's rows and what FreshTrack already holds
// (targetState), shared by the import, its dry run and verify. This file
// maps organisations, people, places and sensors; plan_rules.go the rules,
// contacts; plan_policies.go the notification policies; plan_alerts.go alerts and what hangs on
// them; plan_records.go checks, the audit trail and digests.

// targetState is what the plan needs to know of FreshTrack's database.
type targetState struct {
	// usersBySubject maps an OIDC subject of the import's issuer to the
	// users row that holds it (a person who signed in before the import).
	usersBySubject map[string]string
	// userIDs maps existing users ids to their issuer+"\x00"+subject.
	userIDs map[string]string
	// sensorsByPublic maps a sensor's public_id to its org and external id.
	sensorsByPublic map[string][2]string
	// sensorsByExt maps (org, external id) to the sensor's public_id.
	sensorsByExt map[[2]string]string
	// notificationPolicies maps (org, site, unit, alert kind; "" for
	// unset) to the notification policy there.
	notificationPolicies map[[4]string]string
	// openAlerts maps (unit, rule) to the id of its open alert.
	openAlerts map[[2]string]string
	// orgRules maps (org, unit kind, rule kind) to the organisation's rule.
	orgRules map[[3]string]string
	// audited holds the seed rows (tAudit.Original) already in audit_log.
	audited map[string]bool
}

// planner carries the lookups while a plan is built.
type planner struct {
	o    Options
	d    *seedData
	ts   *targetState
	p    *plan
	rep  *Report
	now  time.Time
	orgs map[string]bool
	// siteOrg, areaSite: the chain units hang from.
	siteOrg  map[string]string
	areaSite map[string]string
	// profileUser maps a profile id to the users row of its person.
	profileUser map[string]string
	// seedUser maps a seed user id (Stack Auth id) to the users row.
	seedUser map[string]string
	// roleOf is a person's membership role in an organisation.
	roleOf map[[2]string]string
	// alertsByID are the imported alerts.
	alertsByID map[string]*tAlert
	// profileContact maps a profile id to the contact made from it.
	profileContact map[string]string
}

// buildPlan maps the seed's rows.
func buildPlan(o Options, d *seedData, ts *targetState, rep *Report) *plan {
	p := &plan{unitsByID: map[string]*tUnit{}, deviceSensor: map[string]string{}, skippedUnits: map[string]string{}, report: rep}
	pl := &planner{o: o, d: d, ts: ts, p: p, rep: rep, now: o.Now().UTC(), orgs: map[string]bool{},
		siteOrg: map[string]string{}, areaSite: map[string]string{}, profileUser: map[string]string{}, seedUser: map[string]string{},
		roleOf: map[[2]string]string{}, alertsByID: map[string]*tAlert{}, profileContact: map[string]string{}}
	pl.organizations()
	pl.people()
	pl.subscriptions()
	pl.places()
	pl.sensors()
	pl.rules()
	pl.contacts()
	pl.policies()
	pl.alerts()
	pl.actions()
	pl.notifications()
	pl.checks()
	pl.audit()
	pl.digests()
	pl.secrets()
	pl.notMigrated()
	return p
}

func (pl *planner) organizations() {
	t := pl.rep.table("organizations", "organizations")
	for _, o := range pl.d.orgs {
		t.Read++
		name := clip(o.Name, 200)
		if name == "" {
			name = cmp.Or(clip(o.Slug, 200), "Organisation "+o.ID[:8])
		}
		pl.p.orgs = append(pl.p.orgs, tOrg{ID: o.ID, Name: name, DeletedAt: o.DeletedAt})
		pl.orgs[o.ID] = true
		t.Written++
	}
	pl.rep.note("organisations' slug, time zone and compliance mode are not FreshTrack settings and were not imported (sites carry the time zone)")
}

// people maps Stack Auth users (profiles, user_roles) to users rows keyed by
// their exact issuer and subject, and their roles to memberships.
func (pl *planner) people() {
	t := pl.rep.table("users", "profiles + user_roles")
	profileOf := map[string]*sProfile{}
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for i := range pl.d.profiles {
		pr := &pl.d.profiles[i]
		profileOf[pr.UserID] = pr
		add(pr.UserID)
	}
	for _, r := range pl.d.roles {
		add(r.UserID)
	}
	slices.Sort(ids)
	droppedPhones := 0
	for _, uid := range ids {
		t.Read++
		id := uid
		if existing, ok := pl.ts.usersBySubject[uid]; ok {
			id = existing
			if existing != uid {
				t.Merged++
			}
		} else if other, ok := pl.ts.userIDs[uid]; ok && other != pl.o.Issuer+"\x1f"+uid {
			t.skip("a users row with this id belongs to another issuer", 1)
			continue
		}
		u := tUser{ID: id, Issuer: pl.o.Issuer, Subject: uid}
		if pr := profileOf[uid]; pr != nil {
			if pr.Email != nil && validEmail(strings.TrimSpace(*pr.Email)) {
				u.Email = ptr(strings.TrimSpace(*pr.Email))
			}
			if pr.FullName != nil && strings.TrimSpace(*pr.FullName) != "" {
				u.Name = ptr(clip(*pr.FullName, 200))
			}
			if pr.Phone != nil && strings.TrimSpace(*pr.Phone) != "" {
				if ph, ok := e164(*pr.Phone); ok {
					u.Phone = &ph
				} else {
					droppedPhones++
				}
			}
		}
		pl.seedUser[uid] = id
		pl.p.users = append(pl.p.users, u)
		if id == uid {
			t.Written++
		}
	}
	if droppedPhones > 0 {
		pl.rep.note("%d people's phone numbers are not E.164 (+<country><number>) and were dropped; they can add them in FreshTrack", droppedPhones)
	}
	for _, pr := range pl.d.profiles {
		if u, ok := pl.seedUser[pr.UserID]; ok {
			pl.profileUser[pr.ID] = u
		}
	}
	m := pl.rep.table("memberships", "user_roles")
	for _, r := range pl.d.roles {
		m.Read++
		uid, ok := pl.seedUser[r.UserID]
		switch {
		case !pl.orgs[r.OrgID]:
			m.skip("organisation not imported", 1)
			continue
		case !ok:
			m.skip("person not imported", 1)
			continue
		}
		role, ok := memberRole(r.Role)
		if !ok {
			m.skip("unknown role", 1)
			continue
		}
		pl.roleOf[[2]string{r.OrgID, uid}] = role
		pl.p.members = append(pl.p.members, tMember{OrgID: r.OrgID, UserID: uid, Role: role})
		m.Written++
	}
	noRole := 0
	for _, pr := range pl.d.profiles {
		if pr.OrgID != nil {
			if _, ok := pl.roleOf[[2]string{*pr.OrgID, pl.seedUser[pr.UserID]}]; !ok {
				noRole++
			}
		}
	}
	if noRole > 0 {
		pl.rep.note("%d profiles have no user_roles row in their own organisation: the seed granted them nothing there and neither does FreshTrack", noRole)
	}
}

func (pl *planner) subscriptions() {
	t := pl.rep.table("subscriptions", "subscriptions + organizations.sensor_limit")
	limit := map[string]*int{}
	for _, o := range pl.d.orgs {
		limit[o.ID] = o.SensorLimit
	}
	newest := map[string]sSub{}
	for _, s := range pl.d.subs {
		t.Read++
		if !pl.orgs[s.OrgID] {
			t.skip("organisation not imported", 1)
			continue
		}
		if old, ok := newest[s.OrgID]; ok {
			t.Merged++ // FreshTrack keeps one subscription per organisation: the newest
			if old.UpdatedAt.After(s.UpdatedAt) {
				continue
			}
		}
		newest[s.OrgID] = s
	}
	customers, subsSeen := map[string]bool{}, map[string]bool{}
	for _, org := range slices.Sorted(maps.Keys(newest)) {
		s := newest[org]
		row := tSub{ID: s.ID, OrgID: s.OrgID, Plan: s.Plan, Status: s.Status, SensorLimit: limit[s.OrgID], PeriodEnd: s.PeriodEnd}
		if s.CustomerID != nil && *s.CustomerID != "" && !customers[*s.CustomerID] {
			customers[*s.CustomerID] = true
			row.CustomerID = s.CustomerID
		}
		if s.SubscriptionID != nil && *s.SubscriptionID != "" && !subsSeen[*s.SubscriptionID] {
			subsSeen[*s.SubscriptionID] = true
			row.SubscriptionID = s.SubscriptionID
		}
		pl.p.subs = append(pl.p.subs, row)
		t.Written++
	}
}

func (pl *planner) places() {
	sites := pl.rep.table("sites", "sites")
	inactive, badZone := 0, 0
	for _, s := range pl.d.sites {
		sites.Read++
		if !pl.orgs[s.OrgID] {
			sites.skip("organisation not imported", 1)
			continue
		}
		zone := strings.TrimSpace(s.Timezone)
		if !validZone(zone) {
			zone = "UTC"
			badZone++
		}
		var parts []string
		for _, v := range []*string{s.Address, s.City, s.State, s.PostalCode, s.Country} {
			if v != nil && strings.TrimSpace(*v) != "" {
				parts = append(parts, strings.TrimSpace(*v))
			}
		}
		row := tSite{ID: s.ID, OrgID: s.OrgID, Name: cmp.Or(clip(s.Name, 200), "Site"), Timezone: zone}
		if len(parts) > 0 {
			row.Address = ptr(strings.Join(parts, ", "))
		}
		if !s.Active || s.DeletedAt != nil {
			inactive++
		}
		pl.siteOrg[s.ID] = s.OrgID
		pl.p.sites = append(pl.p.sites, row)
		sites.Written++
	}
	if badZone > 0 {
		pl.rep.note("%d sites had a time zone that is not an IANA name; they are UTC in FreshTrack: set their zones before printing HACCP reports", badZone)
	}
	areas := pl.rep.table("areas", "areas")
	for _, a := range pl.d.areas {
		areas.Read++
		org, ok := pl.siteOrg[a.SiteID]
		if !ok {
			areas.skip("orphan: site not imported", 1)
			continue
		}
		if !a.Active || a.DeletedAt != nil {
			inactive++
		}
		pl.areaSite[a.ID] = a.SiteID
		pl.p.areas = append(pl.p.areas, tArea{ID: a.ID, OrgID: org, SiteID: a.SiteID, Name: cmp.Or(clip(a.Name, 200), "Area")})
		areas.Written++
	}
	units := pl.rep.table("units", "units")
	for _, u := range pl.d.units {
		units.Read++
		site, ok := pl.areaSite[u.AreaID]
		if !ok {
			units.skip("orphan: area not imported", 1)
			pl.p.skippedUnits[u.ID] = "unit not imported (orphan)"
			continue
		}
		kind, ok := unitKind(u.Type)
		if !ok {
			kind = "other"
			pl.rep.note("unit %s has type %q, imported as other", u.ID, u.Type)
		}
		row := pl.unitRange(u, kind)
		row.ID, row.OrgID, row.SiteID, row.AreaID, row.Name = u.ID, pl.siteOrg[site], site, u.AreaID, cmp.Or(clip(u.Name, 200), "Unit")
		if !u.Active || u.DeletedAt != nil {
			inactive++
		}
		pl.p.units = append(pl.p.units, row)
		pl.p.unitsByID[u.ID] = &pl.p.units[len(pl.p.units)-1]
		units.Written++
	}
	// units grew while unitsByID pointed into it: point again.
	for i := range pl.p.units {
		pl.p.unitsByID[pl.p.units[i].ID] = &pl.p.units[i]
	}
	if inactive > 0 {
		pl.rep.note("%d inactive or deleted sites, areas and units were imported: FreshTrack has no soft delete; delete them there if they are gone", inactive)
	}
}

// unitRange converts a unit's limits: whole degrees in the unit's own
// temp_unit (FrostGuard: decimal degrees in the readings' unit). A missing
// limit takes FreshTrack's default for the kind; min < max is forced.
func (pl *planner) unitRange(u sUnit, kind string) tUnit {
	unit := u.TempUnit
	if unit != Celsius && unit != Fahrenheit {
		unit = pl.o.ReadingsUnit
	}
	def, _ := safety.DefaultSafeRange(kind)
	lo, hi := def.MinC, def.MaxC
	if u.TempMin != nil {
		lo = toCelsius(*u.TempMin, unit)
	}
	if u.TempMax != nil {
		hi = toCelsius(*u.TempMax, unit)
	}
	if math.IsNaN(lo) {
		lo = hi - 10
	}
	if math.IsNaN(hi) {
		hi = lo + 10
	}
	if problem := plausibleRange(kind, lo, hi); problem != "" {
		pl.rep.Implausible = append(pl.rep.Implausible, RangeWarning{UnitID: u.ID, Unit: u.Name, Kind: kind,
			SeedMin: u.TempMin, SeedMax: u.TempMax, SeedUnit: unit, MinC: round2(lo), MaxC: round2(hi), Problem: problem})
	}
	switch {
	case lo > hi:
		lo, hi = hi, lo
	case lo == hi:
		lo, hi = lo-0.5, hi+0.5
	}
	return tUnit{Kind: kind, SafeMinC: lo, SafeMaxC: hi, Fahrenheit: unit == Fahrenheit, Rules: map[string]string{}}
}

// deviceOrg derives a device's organisation: through its unit, else through
// its LoRa network server id naming a TTN application of the organisation.
func (pl *planner) deviceOrg(dv sDevice, ttnApps map[string]string) (org string, unit *string, reason string) {
	if dv.UnitID != nil {
		if u := pl.p.unitsByID[*dv.UnitID]; u != nil {
			return u.OrgID, dv.UnitID, ""
		}
		if _, skipped := pl.p.skippedUnits[*dv.UnitID]; skipped {
			return "", nil, "unit not imported"
		}
	}
	if l, ok := pl.d.lora[dv.ID]; ok && l.NetworkServerID != nil {
		if org, ok := ttnApps[*l.NetworkServerID]; ok {
			return org, nil, ""
		}
	}
	return "", nil, "unassigned: no unit and no TTN application of an organisation"
}

func (pl *planner) sensors() {
	t := pl.rep.table("sensors", "devices + lora_sensors")
	ttnApps := map[string]string{}
	for _, c := range pl.d.ttn {
		for _, app := range []*string{c.ApplicationID, c.TTNApplicationID} {
			if app != nil && *app != "" && pl.orgs[c.OrgID] {
				ttnApps[*app] = c.OrgID
			}
		}
	}
	taken := map[[2]string]string{} // (org, external) → device
	noEUI := 0
	for _, dv := range pl.d.devices {
		t.Read++
		org, unit, reason := pl.deviceOrg(dv, ttnApps)
		if org == "" {
			t.skip(reason, 1)
			continue
		}
		eui := dv.EUI
		if l, ok := pl.d.lora[dv.ID]; ok && strings.TrimSpace(l.DevEUI) != "" {
			eui = l.DevEUI
		}
		ext := clip(normalizeEUI(eui), 128)
		if ext == "" {
			ext = "device:" + dv.ID
			noEUI++
		}
		key := [2]string{org, ext}
		if first, ok := taken[key]; ok {
			// Two seed devices with one EUI (after normalisation): one sensor.
			pl.p.deviceSensor[dv.ID] = first
			t.Merged++
			continue
		}
		if at, ok := pl.ts.sensorsByPublic[dv.ID]; ok && at[0] != org {
			t.skip("its sensor is in another organisation since an earlier import", 1)
			continue
		}
		taken[key] = dv.ID
		s := tSensor{Key: dv.ID, PublicID: dv.ID, OrgID: org, External: ext, UnitID: unit, Name: dv.Name, Model: dv.Type, LastSeenAt: dv.LastSeenAt}
		if dv.Battery != nil {
			s.Battery = ptr(float64(*dv.Battery))
		}
		if !dv.Active {
			s.RetiredAt = ptr(pl.now)
		}
		pl.p.sensors = append(pl.p.sensors, s)
		pl.p.deviceSensor[dv.ID] = dv.ID
		if pub, ok := pl.ts.sensorsByExt[key]; ok && pub != dv.ID {
			t.Merged++ // FreshTrack registered the EUI first: that sensor takes the device's id
			continue
		}
		t.Written++
	}
	if noEUI > 0 {
		pl.rep.note("%d devices have no EUI: their sensors are named device:<seed device id>", noEUI)
	}
	pl.syntheticSensors()
}

// syntheticSensors gives a sensor "unit:<unit id>" to every unit that has
// readings no device sensor of that unit can take: readings without a
// device, of a device that is not imported, or taken while the device sat
// in another unit (a FreshTrack sensor has one unit; the reading stays with
// the unit the seed recorded it for).
func (pl *planner) syntheticSensors() {
	t := pl.rep.table("sensors", "units (readings without a device of theirs)")
	need := map[string]bool{}
	sensorUnit := map[string]*string{}
	for _, s := range pl.p.sensors {
		sensorUnit[s.Key] = s.UnitID
	}
	for _, g := range pl.d.readings {
		if pl.p.unitsByID[g.UnitID] == nil {
			continue
		}
		if g.DeviceID != nil {
			if key, ok := pl.p.deviceSensor[*g.DeviceID]; ok {
				if u := sensorUnit[key]; u != nil && *u == g.UnitID {
					continue
				}
			}
		}
		need[g.UnitID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(need)) {
		t.Read++
		u := pl.p.unitsByID[id]
		pl.p.sensors = append(pl.p.sensors, tSensor{Key: "unit:" + id, OrgID: u.OrgID, External: "unit:" + id, UnitID: ptr(id),
			Name: ptr(clip(u.Name+" (readings without a device)", 200))})
		t.Written++
	}
}

func (pl *planner) notMigrated() {
	for _, name := range slices.Sorted(maps.Keys(pl.d.notMigrated)) {
		t := pl.rep.table("", name)
		t.Read = pl.d.notMigrated[name]
		t.skip("not migrated", t.Read)
	}
	pl.rep.note("not migrated: lora_sensors.app_key and sms_configs (secrets; provision TTN and Telnyx in FreshTrack), stripe_events, reading_metrics (FreshTrack computes its own rollups), pairing sessions, dashboard layouts, calibration records, door events, hubs and gateways (no FreshTrack equivalent)")
}

func ptr[T any](v T) *T { return &v }

func round2(v float64) float64 { return math.Round(v*100) / 100 }
