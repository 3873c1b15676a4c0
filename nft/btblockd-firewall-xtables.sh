# btblockd-firewall-xtables.sh: the xtables backend of btblockd-firewall (sourced by it, never run).
# shellcheck shell=sh disable=SC2154,SC2034 # the options, settings and status fields are btblockd-firewall's
#
# The nft table marks the packets for the queue; with the xt backend an
# NFQUEUE rule in chain BTBLOCKD of the mangle table of iptables and
# ip6tables queues them, for kernels without the nft queue expression.
# btblockd-firewall reads this file only when it makes such rules or finds
# them (xt_load); XT_TOOLS, XT_TABLE, XT_CHAIN and XT_COMMENT are its own.

xt() {
	tool=$1
	shift
	"$tool" -w -t "$XT_TABLE" "$@"
}

xt_chain_exists() {
	xt "$1" -S "$XT_CHAIN" >/dev/null 2>&1
}

# The mark match and NFQUEUE target arguments for the chosen range and
# failure mode: only packets that step 1 of the nft table marked for the queue.
xt_target() {
	printf -- '-m mark --mark %s/%s -j NFQUEUE ' "$mark_queue" "$mark_mask"
	if [ "$queue_first" -eq "$queue_last" ]; then
		printf -- '--queue-num %s' "$queue_first"
	else
		printf -- '--queue-balance %s:%s' "$queue_first" "$queue_last"
	fi
	[ "$fail_closed" = yes ] || printf ' --queue-bypass'
	printf '\n'
}

xt_count_jumps() {
	xt "$1" -S "$2" 2>/dev/null |
		grep -c -e "-j $XT_CHAIN\$" || true
}

# The jump to chain BTBLOCKD from hook chain $2, inserted first: it matches
# the queue mark itself, so that a packet the nft table did not mark for
# the queue (the common one: a flow already decided, or past its first
# packets) costs one mark compare here instead of the queue rules.
xt_insert_jump() {
	xt "$1" -I "$2" 1 -m mark --mark "$mark_queue/$mark_mask" \
		-m comment --comment "$XT_COMMENT" -j "$XT_CHAIN"
}

xt_has_jump() {
	xt "$1" -C "$2" -m mark --mark "$mark_queue/$mark_mask" \
		-m comment --comment "$XT_COMMENT" -j "$XT_CHAIN" 2>/dev/null
}

# Rule numbers of our jumps (ours: they carry our comment) in chain $2,
# highest first so that deleting one does not renumber the rest.  Found by
# position rather than by rule text, so that jumps written by an older
# version or with other marks go too.
xt_jump_numbers() {
	xt "$1" -S "$2" 2>/dev/null |
		awk -v jump="-j $XT_CHAIN" -v comment="--comment $XT_COMMENT " '
			/^-A / {
				n++
				if (index($0, comment) && substr($0, length($0) - length(jump) + 1) == jump)
					print n
			}' | sort -rn
}

# $1 tool, $2 chain, $3 how many of the first jumps to keep (0 or 1).
xt_remove_jumps() {
	for n in $(xt_jump_numbers "$1" "$2"); do
		[ "$n" -gt "$3" ] || continue
		xt "$1" -D "$2" "$n" || return 1
	done
}

# Make chain BTBLOCKD hold exactly the two queue rules and make each chosen
# hook jump to it once.  Existing rules are replaced in place (-R) so that
# "up" over an earlier "up" leaves no moment without queueing.
xt_up_tool() {
	target=$(xt_target)
	if ! xt_chain_exists "$1"; then
		xt "$1" -N "$XT_CHAIN" || return 1
	fi
	rules=$(xt "$1" -S "$XT_CHAIN" | grep -c -e "^-A $XT_CHAIN " || true)
	# shellcheck disable=SC2086 # $target is a list of arguments
	if [ "$rules" -eq 2 ]; then
		xt "$1" -R "$XT_CHAIN" 1 -p tcp -m comment --comment "$XT_COMMENT" $target &&
			xt "$1" -R "$XT_CHAIN" 2 -p udp -m comment --comment "$XT_COMMENT" $target
	else
		xt "$1" -F "$XT_CHAIN" &&
			xt "$1" -A "$XT_CHAIN" -p tcp -m comment --comment "$XT_COMMENT" $target &&
			xt "$1" -A "$XT_CHAIN" -p udp -m comment --comment "$XT_COMMENT" $target
	fi || return 1
	for h in forward input output; do
		eval "sel=\$hook_$h"
		chain=$(printf '%s' "$h" | tr '[:lower:]' '[:upper:]')
		if [ "$sel" = no ]; then
			xt_remove_jumps "$1" "$chain" 0 || return 1
		elif ! xt_has_jump "$1" "$chain" ||
			[ "$(xt_jump_numbers "$1" "$chain" | wc -l)" -ne 1 ]; then
			# The new jump first, then the old ones behind it: no
			# moment without queueing.
			xt_insert_jump "$1" "$chain" &&
				xt_remove_jumps "$1" "$chain" 1 || return 1
		fi
	done
}

# Remove the jumps and chain BTBLOCKD.  With iptables-nft, the kernel table
# ("table ip mangle") is created on first use and stays behind empty;
# remove it again when it holds nothing, so that "down" leaves the ruleset
# as it found it.  Only done when something of ours was removed.
xt_down_tool() {
	command -v "$1" >/dev/null 2>&1 || return 0
	removed=no
	for chain in FORWARD INPUT OUTPUT; do
		[ -z "$(xt_jump_numbers "$1" "$chain")" ] && continue
		xt_remove_jumps "$1" "$chain" 0 || return 1
		removed=yes
	done
	if xt_chain_exists "$1"; then
		xt "$1" -F "$XT_CHAIN" && xt "$1" -X "$XT_CHAIN" || return 1
		removed=yes
	fi
	[ "$removed" = yes ] || return 0
	"$1" -V 2>/dev/null | grep -q nf_tables || return 0
	case $1 in
	iptables) family=ip ;;
	*) family=ip6 ;;
	esac
	# Empty in xtables' view (only ACCEPT policies) and in nft's view
	# (only table/chain/hook lines): nothing of anyone's would be lost.
	if xt "$1" -S 2>/dev/null | grep -qv '^-P [A-Z]* ACCEPT$'; then
		return 0
	fi
	listing=$(nft list table "$family" "$XT_TABLE" 2>/dev/null) || return 0
	if printf '%s\n' "$listing" |
		grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*}' -e '^[[:space:]]*#' \
			-e '^table ' -e '^[[:space:]]*chain [A-Z]* {$' \
			-e '^[[:space:]]*type [a-z]* hook [a-z]* priority [a-z0-9 +-]*; policy accept;$' |
		grep -q .; then
		return 0
	fi
	nft delete table "$family" "$XT_TABLE" 2>/dev/null || true
}

# up, after the nft table is loaded: the NFQUEUE rules of every tool.
xt_up() {
	for t in $XT_TOOLS; do
		if ! xt_up_tool "$t"; then
			cmd_down_quiet
			die "$t could not add the NFQUEUE rules (kernel lacks the xtables NFQUEUE target, xt_NFQUEUE?); rules removed"
		fi
	done
	# Between the table and its NFQUEUE rules, the table counted
	# packets against the queue budgets that nothing queued: a busy
	# flow (a transfer running before "up") used its budget unseen
	# and would never reach btblockd.  Budgets start again now that
	# the queueing is complete; the cost is a few more packets
	# queued for flows already seen.
	if ! printf 'flush set inet %s budget\nflush set inet %s backstop\n' "$TABLE" "$TABLE" |
		nft -f -; then
		printf '%s: warning: nft could not empty the sets budget and backstop: flows that ran while the rules were loaded may not be inspected\n' \
			"$PROG" >&2
	fi
}

# up --dry-run: what xt_up would do, for each tool.
xt_dry_run() {
	printf '# xtables, for each of: %s\n' "$XT_TOOLS"
	printf -- '-t %s -N %s\n' "$XT_TABLE" "$XT_CHAIN"
	for p in tcp udp; do
		printf -- '-t %s -A %s -p %s -m comment --comment %s %s\n' \
			"$XT_TABLE" "$XT_CHAIN" "$p" "$XT_COMMENT" "$(xt_target)"
	done
	for h in $(hook_list | tr ',' ' '); do
		printf -- '-t %s -I %s 1 -m mark --mark %s/%s -m comment --comment %s -j %s\n' \
			"$XT_TABLE" "$(printf '%s' "$h" | tr '[:lower:]' '[:upper:]')" \
			"$mark_queue" "$mark_mask" "$XT_COMMENT" "$XT_CHAIN"
	done
	printf '# then: nft flush set inet %s budget; nft flush set inet %s backstop\n' \
		"$TABLE" "$TABLE"
}

# status, when iptables has chain BTBLOCKD (its rules in $xt_rules): the
# backend, queues, hooks and failure mode.
xt_status() {
	st_backend=xt
	st_queues=$(printf '%s\n' "$xt_rules" | sed -n \
		-e 's/.*--queue-balance \([0-9]*\):\([0-9]*\).*/\1-\2/p' \
		-e 's/.*--queue-num \([0-9]*\).*/\1/p' | head -n 1)
	hooks=
	for h in forward input output; do
		chain=$(printf '%s' "$h" | tr '[:lower:]' '[:upper:]')
		if [ "$(xt_count_jumps iptables "$chain")" -gt 0 ]; then
			hooks=${hooks:+$hooks,}$h
		fi
	done
	case $xt_rules in
	*--queue-bypass*) st_mode=fail-open ;;
	*) st_mode=fail-closed ;;
	esac
}

# status: the packets and bytes chain BTBLOCKD queued, per family.
xt_counters() {
	for t in $XT_TOOLS; do
		command -v "$t" >/dev/null 2>&1 || continue
		case $t in
		iptables) name=xt-ipv4 ;;
		*) name=xt-ipv6 ;;
		esac
		xt "$t" -L "$XT_CHAIN" -v -n -x 2>/dev/null |
			awk -v name="$name" '
				$1 ~ /^[0-9]+$/ { p += $1; b += $2 }
				END { printf "counter %s: packets %d bytes %d\n", name, p, b }'
	done
}
