# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# bash completion for floodgate(8): commands, subcommands, options, and the
# values they take (interfaces, files, modes, sort orders, actions). Needs
# only bash itself, not the bash-completion package.

_floodgate_words() { # WORDS...: complete the current word from them
	COMPREPLY=($(compgen -W "$*" -- "$cur"))
}

_floodgate() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local global="-j --json -p --pretty -v --verbose --pin-dir --help --version"
	local common="-j --json -p --pretty -v --verbose --pin-dir --help"
	local commands="attach detach status limit allow deny ban stats top events config run"
	local cmd="" sub="" i w nargs=0

	COMPREPLY=()
	# values of options that take one
	case $prev in
	--pin-dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--config | -c)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--mode)
		_floodgate_words native generic
		return
		;;
	--by | -b)
		_floodgate_words pps bps drops
		return
		;;
	--action)
		_floodgate_words drop monitor ban
		return
		;;
	--syn-proxy)
		_floodgate_words on off
		return
		;;
	--watch | -w | --interval | -i | -n | --count | --metrics | -m | --pps | --burst | --bps | \
		--bps-burst | --syn-pps | --syn-burst | --total-pps | --total-burst | --prefix4 | \
		--prefix6 | --ban-for | --ban-mult | --ban-max | --for)
		return # a number, duration or address: nothing to offer
		;;
	esac

	# the command, its subcommand, and how many plain words follow
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--pin-dir | --config | -c | --mode | --by | -b | --action | --syn-proxy | --watch | -w | \
			--interval | -i | -n | --count | --metrics | -m | --pps | --burst | --bps | --bps-burst | \
			--syn-pps | --syn-burst | --total-pps | --total-burst | --prefix4 | --prefix6 | \
			--ban-for | --ban-mult | --ban-max | --for)
			i=$((i + 1)) # skip the option's value
			continue
			;;
		-*) continue ;;
		esac
		if [ -z "$cmd" ]; then
			cmd=$w
		elif [ -z "$sub" ]; then
			sub=$w
		else
			nargs=$((nargs + 1))
		fi
	done

	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then _floodgate_words $global; else _floodgate_words $commands; fi
		return
	fi
	case $cmd in
	attach)
		if [[ $cur == -* ]]; then
			_floodgate_words --mode --config $common
		elif [ -z "$sub" ]; then
			_floodgate_words $(ls /sys/class/net 2>/dev/null)
		fi
		;;
	detach)
		if [[ $cur == -* ]]; then
			_floodgate_words --all $common
		elif [ -z "$sub" ]; then
			_floodgate_words $(ls /sys/class/net 2>/dev/null)
		fi
		;;
	status) _floodgate_words $common ;;
	limit)
		if [ -z "$sub" ]; then
			[[ $cur == -* ]] && _floodgate_words $common || _floodgate_words set del list
		elif [[ $cur == -* && $sub == set ]]; then
			_floodgate_words --pps --burst --bps --bps-burst --syn-pps --syn-burst \
				--total-pps --total-burst --prefix4 --prefix6 --action --ban-for \
				--ban-mult --ban-max --syn-proxy $common
		elif [[ $sub == set || $sub == del ]] && [ $nargs -eq 0 ]; then
			compopt -o nospace 2>/dev/null
			_floodgate_words default tcp/ udp/
		fi
		;;
	allow | deny)
		if [ -z "$sub" ]; then
			[[ $cur == -* ]] && _floodgate_words $common || _floodgate_words add del list
		else
			_floodgate_words $common
		fi
		;;
	ban)
		if [ -z "$sub" ]; then
			[[ $cur == -* ]] && _floodgate_words $common || _floodgate_words add del list
		elif [[ $cur == -* ]]; then
			case $sub in
			add) _floodgate_words --for $common ;;
			list) _floodgate_words --all $common ;;
			*) _floodgate_words $common ;;
			esac
		fi
		;;
	stats) _floodgate_words --watch $common ;;
	top) _floodgate_words -n --count --by --interval $common ;;
	events) _floodgate_words --follow $common ;;
	config)
		if [ -z "$sub" ]; then
			[[ $cur == -* ]] && _floodgate_words $common || _floodgate_words check apply dump
		elif [[ $cur == -* ]]; then
			_floodgate_words $common
		elif [[ $sub == check || $sub == apply ]] && [ $nargs -eq 0 ]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	run) _floodgate_words --config --metrics $common ;;
	esac
}
complete -F _floodgate floodgate
