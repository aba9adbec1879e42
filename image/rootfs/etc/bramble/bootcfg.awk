# Reads bramble.json (the join settings on the boot partition), checks it
# and prints shell assignments for the fields:
#   BC_MASTERS='h1:p1 h2:p2'  BC_TOKEN='...'  BC_PREFIX='...'  BC_NAME='...'
#   BC_LOG_LEVEL='...'
#   BC_COUNTRY='GB'  BC_WIFI_N=2 and for each network i (1..N):
#   BC_WIFI_SSID_i (as written), BC_WIFI_SSIDHEX_i (its bytes in hex, for
#   wpa_supplicant), BC_WIFI_PSK_i (64 hex digits or a passphrase),
#   BC_WIFI_HIDDEN_i (0 or 1)
# BC_MASTERS is 'auto' when bramble.json says "auto" or "" (the agent finds
# the master by mDNS).
# On a problem it prints one line "bramble.json: field 'X': ..." (or a
# syntax error with its position) to stderr and exits 1.
#
# A small JSON reader: objects, arrays, strings (with escapes), numbers,
# true/false/null. Every value Bramble accepts is printable ASCII, so a
# \u escape outside it is refused rather than decoded.
#
# Usage: awk -f bootcfg.awk bramble.json
function die(msg) { printf "bramble.json: %s\n", msg > "/dev/stderr"; failed = 1; exit 1 }
function synerr(msg) { die("not valid JSON at byte " pos ": " msg) }
function ws() { while (pos <= n && index(" \t\r\n", substr(s, pos, 1))) pos++ }
function peek() { ws(); return substr(s, pos, 1) }
function expect(c) { if (peek() != c) synerr("expected '" c "'"); pos++ }
# Parses a string at pos; returns it. Sets T = "string".
function pstring(   out, c, h) {
	if (peek() != "\"") synerr("expected a string")
	pos++; out = ""
	while (1) {
		if (pos > n) synerr("unterminated string")
		c = substr(s, pos, 1); pos++
		if (c == "\"") break
		if (c == "\\") {
			c = substr(s, pos, 1); pos++
			if (c == "n") c = "\n"; else if (c == "t") c = "\t"; else if (c == "r") c = "\r"
			else if (c == "b") c = "\b"; else if (c == "f") c = "\f"
			else if (c == "u") {
				h = tolower(substr(s, pos, 4)); pos += 4
				if (h !~ /^00[2-7][0-9a-f]$/ || h == "007f") synerr("\\u" h " is not printable ASCII")
				c = sprintf("%c", hexval(h))
			} else if (c != "\"" && c != "\\" && c != "/") synerr("bad escape \\" c)
		}
		out = out c
	}
	T = "string"
	return out
}
function hexval(h,   i, v) { v = 0; for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1; return v }
# Parses any value; returns a scalar as text, or for an array of strings
# the strings joined by a space. T is the type: string, number, bool, null,
# array (of strings only; ARR_OK=0 when an element is not a string), object.
function pvalue(   c, v, first, el) {
	c = peek()
	if (c == "\"") return pstring()
	if (c == "[") {
		pos++; v = ""; first = 1; ARR_OK = 1; ARR_N = 0
		if (peek() == "]") { pos++; T = "array"; return "" }
		while (1) {
			el = pvalue()
			if (T != "string" || el ~ /[ \t\n]/ || el == "") ARR_OK = 0
			v = first ? el : v " " el; first = 0; ARR_N++
			c = peek()
			if (c == ",") { pos++; continue }
			if (c == "]") { pos++; break }
			synerr("expected ',' or ']'")
		}
		T = "array"; return v
	}
	if (c == "{") { skipobject(); T = "object"; return "" }
	if (substr(s, pos, 4) == "true") { pos += 4; T = "bool"; return "true" }
	if (substr(s, pos, 5) == "false") { pos += 5; T = "bool"; return "false" }
	if (substr(s, pos, 4) == "null") { pos += 4; T = "null"; return "" }
	if (match(substr(s, pos), /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) { v = substr(s, pos, RLENGTH); pos += RLENGTH; T = "number"; return v }
	synerr("unexpected character '" c "'")
}
function skipobject(   k) {
	expect("{")
	if (peek() == "}") { pos++; return }
	while (1) {
		k = pstring(); expect(":"); pvalue()
		if (peek() == ",") { pos++; continue }
		expect("}"); return
	}
}
function valid_hostport(v,   host, port) {
	if (match(v, /^\[[0-9A-Fa-f:.]+\]:[0-9]+$/)) { port = v; sub(/.*\]:/, "", port) }
	else if (match(v, /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]+$/)) { port = v; sub(/.*:/, "", port) }
	else return 0
	return length(port) <= 5 && port + 0 >= 1 && port + 0 <= 65535
}
function valid_name(v) { return length(v) <= 63 && v ~ /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/ }
function q(v) { return "'" v "'" } # values are checked to hold no quote
# Any text as one shell word (an SSID may hold quotes).
function sq(v,   out, i, c) {
	out = ""
	for (i = 1; i <= length(v); i++) { c = substr(v, i, 1); out = out (c == "'" ? "'\\''" : c) }
	return "'" out "'"
}
function tohex(v,   out, i) { out = ""; for (i = 1; i <= length(v); i++) out = out sprintf("%02x", ORD[substr(v, i, 1)]); return out }
# "wifi": [{"ssid": "home", "psk": "<8-63 character passphrase or 64 hex>", "hidden": false}, ...]
function pwifi(   k, v, f, seenk) {
	if (peek() != "[") die("field 'wifi': expected a list of networks, e.g. [{\"ssid\": \"home\", \"psk\": \"<passphrase>\"}]")
	pos++; nwifi = 0
	if (peek() == "]") { pos++; return }
	while (1) {
		f = "field 'wifi[" nwifi "]"
		if (peek() != "{") die(f "': expected an object like {\"ssid\": \"home\", \"psk\": \"<passphrase>\"}")
		pos++; nwifi++; split("", seenk); WHID[nwifi] = 0
		if (peek() == "}") die(f "': empty; expected {\"ssid\": ..., \"psk\": ...}")
		while (1) {
			k = pstring(); expect(":"); v = pvalue()
			if (k in seenk) die(f "." k "': appears twice")
			seenk[k] = 1
			if (k == "ssid") {
				if (T != "string") die(f ".ssid': expected a string (the network name)")
				if (v == "") die(f ".ssid': empty; expected the network name (1-32 bytes)")
				if (length(v) > 32) die(f ".ssid': " length(v) " bytes; a network name is at most 32 bytes")
				WSSID[nwifi] = v
			} else if (k == "psk") {
				if (T != "string") die(f ".psk': expected a string: a passphrase of 8-63 characters or 64 hex digits")
				if (length(v) == 64) {
					if (v !~ /^[0-9A-Fa-f]+$/) die(f ".psk': 64 characters but not all hex digits; expected a passphrase of 8-63 characters or a key of 64 hex digits")
					v = tolower(v)
				} else if (length(v) < 8 || length(v) > 63)
					die(f ".psk': " length(v) " characters; expected a passphrase of 8-63 characters or a key of 64 hex digits")
				else if (v !~ /^[ -~]+$/) die(f ".psk': a passphrase must be printable ASCII")
				WPSK[nwifi] = v
			} else if (k == "hidden") {
				if (T != "bool") die(f ".hidden': expected true or false")
				WHID[nwifi] = v == "true"
			} else if (k ~ /^(_|#|comment)/) {
			} else die(f "." k "': unknown field (known: ssid, psk, hidden)")
			if (peek() == ",") { pos++; continue }
			expect("}"); break
		}
		if (!("ssid" in seenk)) die(f ".ssid': missing; expected the network name")
		if (!("psk" in seenk)) die(f ".psk': missing; expected a passphrase of 8-63 characters or 64 hex digits (open networks are not supported)")
		if (peek() == ",") { pos++; continue }
		if (peek() == "]") { pos++; break }
		synerr("expected ',' or ']'")
	}
}
BEGIN {
	RS = "\001"
	for (i = 1; i < 256; i++) ORD[sprintf("%c", i)] = i
	# ISO 3166-1 alpha-2 (wireless-regdb's countries are among these).
	split("AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW", cc, " ")
	for (i in cc) COUNTRIES[cc[i]] = 1
}
{ s = s $0 }
END {
	if (failed) exit 1
	n = length(s); pos = 1
	if (substr(s, 1, 3) == "\357\273\277") pos = 4 # a UTF-8 byte order mark (Windows editors)
	if (n == 0) die("the file is empty; expected a JSON object like {\"master\": \"HOST:PORT\", \"token\": \"bramble1:...\"}")
	if (n > 65536) die("larger than 64 KiB")
	if (peek() != "{") synerr("expected a JSON object ('{')")
	pos++
	if (peek() == "}") pos++
	else while (1) {
		key = pstring(); expect(":"); ws(); vstart = pos; val = pvalue()
		if (key in seen) die("field '" key "': appears twice")
		seen[key] = 1
		if (key == "master") {
			if (T == "string") { list = val; cnt = 1; if (val ~ /[ \t\n]/) cnt = 0 }
			else if (T == "array" && ARR_OK && val != "") { list = val; cnt = ARR_N }
			else die("field 'master': expected \"HOST:PORT\" or a non-empty list of them, e.g. \"192.168.1.10:7443\"")
			if (list == "" || list == "auto") { masters = "auto"; cnt = -1 }
			if (cnt >= 0) m = split(list, parts, " ")
			if (cnt < 0) {
			} else if (cnt == 0 || m != cnt) die("field 'master': '" list "' is not HOST:PORT, e.g. \"192.168.1.10:7443\"")
			else for (i = 1; i <= m; i++)
				if (!valid_hostport(parts[i])) die("field 'master': '" parts[i] "' is not HOST:PORT, e.g. \"192.168.1.10:7443\"")
			if (cnt >= 0) masters = list
		} else if (key == "token") {
			if (T == "null") val = ""
			else if (T != "string") die("field 'token': expected a string (the join token from 'bramble token create')")
			if (val != "" && val !~ /^bramble1:[0-9a-f]+:[a-z0-9]+\.[a-z0-9]+$/)
				die("field 'token': not a join token: expected bramble1:<CA hash>:<id>.<secret> from 'bramble token create'")
			if (val != "") {
				split(val, tp, ":"); split(tp[3], ts, ".")
				if (length(tp[2]) != 64) die("field 'token': the CA hash must be 64 hex digits")
				if (length(ts[1]) != 6) die("field 'token': the token id must be 6 characters of a-z and 0-9")
				if (length(ts[2]) != 32) die("field 'token': the secret must be 32 characters of a-z and 0-9")
			}
			token = val
		} else if (key == "name_prefix") {
			if (T != "string" || length(val) > 56 || val !~ /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/)
				die("field 'name_prefix': expected 1-56 characters of a-z, 0-9 and '-', not starting or ending with '-', e.g. \"pi\"")
			prefix = val
		} else if (key == "name") {
			if (T == "null") val = ""
			else if (T != "string" || (val != "" && !valid_name(val)))
				die("field 'name': expected 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'")
			name = val
		} else if (key == "log_level") {
			if (T != "string" || val !~ /^(error|warn|info|debug)$/)
				die("field 'log_level': expected one of \"error\", \"warn\", \"info\", \"debug\"")
			level = val
		} else if (key == "wifi") {
			# Read again as networks: pvalue() above only skipped it.
			pos = vstart; pwifi()
		} else if (key == "country") {
			if (T != "string" || length(val) != 2 || !(toupper(val) in COUNTRIES))
				die("field 'country': " (T == "string" ? "'" val "' is not" : "expected") " an ISO 3166 alpha-2 country code (whose Wi-Fi rules apply), e.g. \"GB\", \"US\", \"DE\"")
			country = toupper(val)
		} else if (key ~ /^(_|#|comment)/) {
			# Comments are allowed: "_note": "...".
		} else die("field '" key "': unknown field (known: master, token, name_prefix, name, log_level, wifi, country; comments start with '_')")
		c = peek()
		if (c == ",") { pos++; continue }
		if (c == "}") { pos++; break }
		synerr("expected ',' or '}'")
	}
	ws()
	if (pos <= n) synerr("text after the closing '}'")
	if (nwifi > 0 && country == "") die("field 'country': missing; required with 'wifi': the ISO 3166 country code whose Wi-Fi rules apply, e.g. \"GB\"")
	if (!("master" in seen)) die("field 'master': missing; expected \"HOST:PORT\" of the bramble-master, e.g. \"192.168.1.10:7443\"")
	if (prefix == "") prefix = "bramble"
	if (level == "") level = "info"
	print "BC_MASTERS=" q(masters)
	print "BC_TOKEN=" q(token)
	print "BC_PREFIX=" q(prefix)
	print "BC_NAME=" q(name)
	print "BC_LOG_LEVEL=" q(level)
	print "BC_COUNTRY=" q(country)
	print "BC_WIFI_N=" nwifi + 0
	for (i = 1; i <= nwifi; i++) {
		print "BC_WIFI_SSID_" i "=" sq(WSSID[i])
		print "BC_WIFI_SSIDHEX_" i "=" q(tohex(WSSID[i]))
		print "BC_WIFI_PSK_" i "=" sq(WPSK[i])
		print "BC_WIFI_HIDDEN_" i "=" WHID[i]
	}
}
