# bash completion for auditfs. Generated from the program itself at completion time, so a new
# command or option needs no edit here: the commands come from `auditfs --list-commands` (the
# dispatch table) and each command's options from the --long-options its --help prints.

_auditfs_opts_of() {
    # every --option in the command's help, once
    "$1" "$2" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

_auditfs() {
    local cur prev prog cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    prog=${COMP_WORDS[0]}
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$("$prog" --list-commands 2>/dev/null) help --help --version" \
            -- "$cur"))
        return
    fi
    if [[ $cmd == help ]]; then
        COMPREPLY=($(compgen -W "$("$prog" --list-commands 2>/dev/null)" -- "$cur"))
        return
    fi
    case $prev in
        --ledger|--trusted|-o|--output|--check|--tlog-tiles)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --key)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --party)
            COMPREPLY=($(compgen -W "provider customer security-vendor assessor" -- "$cur"))
            return ;;
        --layer)
            COMPREPLY=($(compgen -W "facility hardware virtualization platform application data" \
                -- "$cur"))
            return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_auditfs_opts_of "$prog" "$cmd")" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _auditfs auditfs
