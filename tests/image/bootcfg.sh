#!/usr/bin/env bash
# bramble.json as the node reads it: the image's own busybox awk runs the
# image's bootcfg.awk (under qemu-aarch64-static) on good and broken files,
# and each broken one is reported with the field at fault.
. "$(dirname "$0")/lib.sh"
image_test_init qemu-aarch64-static unsquashfs

off=$(brm_part_offset "$IMG" 2)
size=$(brm_part_size "$IMG" 2)
dd if="$IMG" of="$WORK/root.sqfs" bs=1M skip=$((off / 1048576)) count=$((size / 1048576)) status=none
unsquashfs -no-progress -q -d "$WORK/root" "$WORK/root.sqfs" usr/bin/busybox etc/bramble/bootcfg.awk >/dev/null 2>&1 ||
	fail "cannot extract busybox and bootcfg.awk from the root"
BB=$WORK/root/usr/bin/busybox
AWK=$WORK/root/etc/bramble/bootcfg.awk
TOKEN=bramble1:$(printf 'ab%.0s' $(seq 32)):abc123.$(printf 'x%.0s' $(seq 32))

# run JSON: the awk's stdout+stderr and its exit code in $RC.
run() {
	printf '%s' "$1" >"$WORK/bramble.json"
	set +e
	OUT=$(qemu-aarch64-static "$BB" awk -f "$AWK" "$WORK/bramble.json" 2>&1)
	RC=$?
	set -e
}
good() { # JSON EXPECTED-LINE...
	local json=$1
	shift
	run "$json"
	[ "$RC" = 0 ] || fail "valid bramble.json refused: $json -> $OUT"
	for l in "$@"; do
		grep -qxF -- "$l" <<<"$OUT" || fail "for $json expected line $l, got: $OUT"
	done
	pass "accepted: $json"
}
bad() { # JSON PATTERN
	run "$1"
	[ "$RC" != 0 ] || fail "broken bramble.json accepted: $1 -> $OUT"
	grep -qE -- "$2" <<<"$OUT" || fail "for $1 expected /$2/, got: $OUT"
	[ "$(wc -l <<<"$OUT")" = 1 ] || fail "expected one line for $1, got: $OUT"
	pass "refused: $1 -> $OUT"
}

good "{\"master\": \"10.0.2.100:7443\", \"token\": \"$TOKEN\", \"name_prefix\": \"pi\"}" \
	"BC_MASTERS='10.0.2.100:7443'" "BC_TOKEN='$TOKEN'" "BC_PREFIX='pi'" "BC_NAME=''" "BC_LOG_LEVEL='info'"
good "{
  \"master\": [\"a.example:1\", \"[fd00::1]:7443\"],
  \"token\": \"\",
  \"name\": \"rack1-top\", \"log_level\": \"debug\", \"_note\": \"comments are fine\"
}" "BC_MASTERS='a.example:1 [fd00::1]:7443'" "BC_TOKEN=''" "BC_PREFIX='bramble'" "BC_NAME='rack1-top'" "BC_LOG_LEVEL='debug'"
good '{"master": "h\u0031:7443"}' "BC_MASTERS='h1:7443'"
good '{"master":"m:1","token":null}' "BC_TOKEN=''"
good "$(printf '\357\273\277{"master": "h:1"}\r\n')" "BC_MASTERS='h:1'"

# The master found by mDNS: "auto", or left empty.
good "{\"master\": \"auto\", \"token\": \"$TOKEN\"}" "BC_MASTERS='auto'" "BC_TOKEN='$TOKEN'" "BC_WIFI_N=0" "BC_COUNTRY=''"
good '{"master": ""}' "BC_MASTERS='auto'"
# Wi-Fi: a passphrase, a 64-hex key (lower-cased), a hidden network, an
# SSID with a quote and UTF-8 (passed as hex to wpa_supplicant), the
# country in either case; an empty list needs no country.
E=$(printf '\303\251') # U+00E9 in UTF-8
PSK=f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e
good "{\"master\": \"h:1\", \"country\": \"gb\", \"wifi\": [
  {\"ssid\": \"home\", \"psk\": \"correct horse\"},
  {\"ssid\": \"it's \u0041 caf$E\", \"psk\": \"$(tr a-f A-F <<<"$PSK")\", \"hidden\": true, \"_note\": \"attic\"}]}" \
	"BC_COUNTRY='GB'" "BC_WIFI_N=2" "BC_WIFI_SSID_1='home'" "BC_WIFI_SSIDHEX_1='686f6d65'" "BC_WIFI_PSK_1='correct horse'" \
	"BC_WIFI_HIDDEN_1=0" "BC_WIFI_SSID_2='it'\\''s A caf$E'" "BC_WIFI_SSIDHEX_2='69742773204120636166c3a9'" \
	"BC_WIFI_PSK_2='$PSK'" "BC_WIFI_HIDDEN_2=1"
good '{"master": "h:1", "wifi": [], "country": "DE"}' "BC_WIFI_N=0" "BC_COUNTRY='DE'"
good "{\"master\": \"h:1\", \"country\": \"US\", \"wifi\": [{\"ssid\": \"$(printf 'x%.0s' $(seq 32))\", \"psk\": \"$(printf 'p%.0s' $(seq 63))\"}]}" "BC_WIFI_N=1"

bad '' "the file is empty"
bad '{"master": "h:1", "wifi": [{"ssid": "", "psk": "password"}], "country": "GB"}' "field 'wifi\\[0\\]\\.ssid': empty"
bad "{\"master\": \"h:1\", \"wifi\": [{\"ssid\": \"$(printf 'x%.0s' $(seq 33))\", \"psk\": \"password\"}], \"country\": \"GB\"}" "field 'wifi\\[0\\]\\.ssid': 33 bytes; a network name is at most 32"
bad '{"master": "h:1", "wifi": [{"ssid": "\u00e9\u00e9"}], "country": "GB"}' "not printable ASCII"
bad '{"master": "h:1", "wifi": [{"ssid": "a", "psk": "password"}, {"ssid": "b", "psk": "short"}], "country": "GB"}' "field 'wifi\\[1\\]\\.psk': 5 characters; expected a passphrase of 8-63"
bad "{\"master\": \"h:1\", \"wifi\": [{\"ssid\": \"a\", \"psk\": \"$(printf 'p%.0s' $(seq 65))\"}], \"country\": \"GB\"}" "field 'wifi\\[0\\]\\.psk': 65 characters"
bad "{\"master\": \"h:1\", \"wifi\": [{\"ssid\": \"a\", \"psk\": \"${PSK%?}g\"}], \"country\": \"GB\"}" "field 'wifi\\[0\\]\\.psk': 64 characters but not all hex"
bad '{"master": "h:1", "wifi": [{"ssid": "a"}], "country": "GB"}' "field 'wifi\\[0\\]\\.psk': missing"
bad '{"master": "h:1", "wifi": [{"psk": "password"}], "country": "GB"}' "field 'wifi\\[0\\]\\.ssid': missing"
bad '{"master": "h:1", "wifi": [{"ssid": "a", "psk": "password", "hidden": "yes"}], "country": "GB"}' "field 'wifi\\[0\\]\\.hidden': expected true or false"
bad '{"master": "h:1", "wifi": [{"ssid": "a", "psk": "password", "key": 1}], "country": "GB"}' "field 'wifi\\[0\\]\\.key': unknown field"
bad '{"master": "h:1", "wifi": [{"ssid": "a", "psk": "password", "ssid": "b"}], "country": "GB"}' "field 'wifi\\[0\\]\\.ssid': appears twice"
bad '{"master": "h:1", "wifi": {"ssid": "a", "psk": "password"}, "country": "GB"}' "field 'wifi': expected a list of networks"
bad '{"master": "h:1", "wifi": ["home"], "country": "GB"}' "field 'wifi\\[0\\]': expected an object"
bad '{"master": "h:1", "wifi": [{"ssid": "a", "psk": "password"}]}' "field 'country': missing; required with 'wifi'"
bad '{"master": "h:1", "country": "XX"}' "field 'country': 'XX' is not an ISO 3166 alpha-2 country code"
bad '{"master": "h:1", "country": "GBR"}' "field 'country': 'GBR' is not an ISO 3166"
bad '{"master": "h:1", "country": 44}' "field 'country': expected an ISO 3166"
bad '{"token": ""}' "field 'master': missing"
bad '{"master": "10.0.2.100"}' "field 'master': '10.0.2.100' is not HOST:PORT"
bad '{"master": "h:99999"}' "field 'master': 'h:99999' is not HOST:PORT"
bad '{"master": []}' "field 'master': expected"
bad '{"master": ["h:1", 7]}' "field 'master': expected"
bad '{"master": 7443}' "field 'master': expected"
bad '{"master": "h:1", "token": "bramble1:zz:abc.def"}' "field 'token': not a join token"
bad "{\"master\": \"h:1\", \"token\": \"${TOKEN%x}\"}" "field 'token': the secret must be 32"
bad '{"master": "h:1", "token": 5}' "field 'token': expected a string"
bad '{"master": "h:1", "name_prefix": "Pi"}' "field 'name_prefix': expected"
bad '{"master": "h:1", "name_prefix": "-pi"}' "field 'name_prefix': expected"
bad '{"master": "h:1", "name": "a_b"}' "field 'name': expected"
bad '{"master": "h:1", "log_level": "loud"}' "field 'log_level': expected"
bad '{"master": "h:1", "tokne": "x"}' "field 'tokne': unknown field"
bad '{"master": "h:1", "master": "h:2"}' "field 'master': appears twice"
bad '{"master": "h:1",}' "not valid JSON at byte [0-9]+: expected a string"
bad '{"master": "h:1"' "not valid JSON at byte [0-9]+: expected ',' or '}'"
bad '{"master": "h:1"} x' "not valid JSON at byte [0-9]+: text after"
bad '["h:1"]' "expected a JSON object"
bad '{"master": "h:1", "name": "\u00e9"}' "not printable ASCII"
bad "{\"master\": \"h'x:1\"}" "field 'master'"
echo "PASS"
