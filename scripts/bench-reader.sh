#!/usr/bin/env bash
# Times the reader against `pandoc -t plain` on the benchmark novel (DOCX,
# EPUB, Markdown) and, with --corpus, on every DOCX/EPUB/Markdown file of the
# shared corpus; prints medians, the speed-up and peak memory (max RSS).
# With --pdf, only PDFs instead: the benchmark novel and one pass over the
# PDF corpus against `pdftotext -enc UTF-8 FILE -`, runs alternating.
#
#   scripts/bench-reader.sh [--runs N] [--corpus] [--pdf]
#
# Needs pandoc (apt-get install -y pandoc) or, for --pdf, pdftotext
# (apt-get install -y poppler-utils); hyperfine is used when installed.
# The reader is timed as a process, like pandoc: by default the `extract`
# example of the reader crate (built here in release); set READER_CMD to time
# something else, e.g. READER_CMD="target/release/dramatis extract".
set -euo pipefail

runs=5
corpus=0
pdf=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --corpus) corpus=1; shift ;;
    --pdf) pdf=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# Pages that pdf-extract's font code panics on are caught, but with
# RUST_BACKTRACE set the panic hook symbolises a backtrace first (seconds of
# CPU and tens of MB): measure the reader as the service runs it.
export RUST_BACKTRACE=0
repo=$(cd "$(dirname "$0")/.." && pwd)
docs="$repo/../shared/data/docs"
bench="$docs/bench"
if [ "$pdf" = 1 ]; then
  command -v pdftotext >/dev/null || { echo "pdftotext is not installed" >&2; exit 1; }
else
  command -v pandoc >/dev/null || { echo "pandoc is not installed" >&2; exit 1; }
fi
if [ -z "${READER_CMD:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
  (cd "$repo" && cargo build -q -p reader --release --example extract)
  READER_CMD="$CARGO_TARGET_DIR/release/examples/extract"
fi
echo "reader: $READER_CMD"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# time_cmd RUNS CMD... : prints "median_wall_s median_cpu_s max_rss_kb"
time_cmd() {
  local n=$1; shift
  local walls=() cpus=() rss=0
  for _ in $(seq "$n"); do
    local tf
    tf=$(mktemp)
    /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >/dev/null 2>&1 || true
    read -r wall user sys kb < <(tail -1 "$tf")
    rm -f "$tf"
    walls+=("$wall"); cpus+=("$(echo "$user + $sys" | bc)")
    [ "$kb" -gt "$rss" ] && rss=$kb
  done
  echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${cpus[@]}" | median) $rss"
}

if [ "$pdf" = 1 ]; then
  echo "pdftotext: $(pdftotext -v 2>&1 | head -1)"
  echo
  printf '%-24s %10s %11s %11s %11s %11s %9s %9s %13s %13s\n' file bytes "reader cpu" "ptt cpu" "reader wall" "ptt wall" "cpu ratio" "wall ratio" "reader maxRSS" "budget"
  for path in "$bench/middlemarch.pdf"; do
    bytes=$(stat -c %s "$path")
    rc_all=(); pc_all=(); rw_all=(); pw_all=(); rr=0
    for _ in $(seq "$runs"); do
      read -r rw rc r1 <<<"$(time_cmd 1 $READER_CMD "$path")"
      read -r pw pc _ <<<"$(time_cmd 1 pdftotext -enc UTF-8 "$path" -)"
      rc_all+=("$rc"); pc_all+=("$pc"); rw_all+=("$rw"); pw_all+=("$pw")
      [ "$r1" -gt "$rr" ] && rr=$r1
    done
    rc=$(printf '%s\n' "${rc_all[@]}" | median); pc=$(printf '%s\n' "${pc_all[@]}" | median)
    rw=$(printf '%s\n' "${rw_all[@]}" | median); pw=$(printf '%s\n' "${pw_all[@]}" | median)
    printf '%-24s %10s %10.2fs %10.2fs %10.2fs %10.2fs %8.2fx %8.2fx %10s kB %10s kB\n' "$(basename "$path")" "$bytes" "$rc" "$pc" "$rw" "$pw" \
      "$(echo "$rc / $pc" | bc -l)" "$(echo "$rw / $pw" | bc -l)" "$rr" "$(( bytes * 4 / 1024 + 51200 ))"
  done
  echo
  echo "PDF corpus, one process per file, $runs alternating passes (CPU and wall seconds summed per pass; medians):"
  rcs=(); pcs=(); rws=(); pws=(); over=()
  for _ in $(seq "$runs"); do
    rsum=0; psum=0; rwsum=0; pwsum=0
    for path in "$docs"/pdf/*.pdf; do
      read -r rw rc rr <<<"$(time_cmd 1 $READER_CMD "$path")"
      read -r pw pc _ <<<"$(time_cmd 1 pdftotext -enc UTF-8 "$path" -)"
      rsum=$(echo "$rsum + $rc" | bc); psum=$(echo "$psum + $pc" | bc)
      rwsum=$(echo "$rwsum + $rw" | bc); pwsum=$(echo "$pwsum + $pw" | bc)
      budget=$(( $(stat -c %s "$path") * 4 / 1024 + 51200 ))
      [ "$rr" -gt "$budget" ] && over+=("$(basename "$path") ${rr} kB > ${budget} kB")
    done
    rcs+=("$rsum"); pcs+=("$psum"); rws+=("$rwsum"); pws+=("$pwsum")
  done
  rc=$(printf '%s\n' "${rcs[@]}" | median); pc=$(printf '%s\n' "${pcs[@]}" | median)
  rw=$(printf '%s\n' "${rws[@]}" | median); pw=$(printf '%s\n' "${pws[@]}" | median)
  printf '  reader cpu %.2f s, pdftotext cpu %.2f s (%.2fx); reader wall %.2f s, pdftotext wall %.2f s (%.2fx)\n' \
    "$rc" "$pc" "$(echo "$rc / $pc" | bc -l)" "$rw" "$pw" "$(echo "$rw / $pw" | bc -l)"
  if [ ${#over[@]} -gt 0 ]; then
    echo "  over the memory budget (4x file + 50 MB):"
    printf '    %s\n' "${over[@]}" | sort -u
  else
    echo "  every file within the memory budget (4x file + 50 MB)"
  fi
  exit 0
fi

echo "pandoc: $(pandoc --version | head -1)"
echo
printf '%-28s %10s %12s %12s %12s %12s %9s %14s %14s\n' file bytes "reader wall" "reader cpu" "pandoc wall" "pandoc cpu" "speed-up" "reader maxRSS" "budget(4x+50M)"
for spec in "middlemarch.docx docx" "middlemarch.epub epub" "middlemarch.md markdown" "pride_and_prejudice.epub epub"; do
  read -r f from <<<"$spec"
  path="$bench/$f"
  [ -f "$path" ] || continue
  bytes=$(stat -c %s "$path")
  read -r rw rc rr <<<"$(time_cmd "$runs" $READER_CMD "$path")"
  pruns=$(( runs < 3 ? runs : 3 ))
  read -r pw pc _ <<<"$(time_cmd "$pruns" pandoc -f "$from" -t plain "$path" -o /dev/null)"
  speed=$(echo "scale=1; $pc / ($rc + 0.0005)" | bc)
  budget=$(( bytes * 4 / 1024 + 51200 ))
  printf '%-28s %10s %12s %12s %12s %12s %8sx %11s kB %11s kB\n' "$f" "$bytes" "$rw" "$rc" "$pw" "$pc" "$speed" "$rr" "$budget"
done
if command -v hyperfine >/dev/null; then
  echo
  echo "hyperfine (wall clock), middlemarch.docx:"
  hyperfine -N --warmup 1 --runs "$runs" "$READER_CMD $bench/middlemarch.docx" 2>/dev/null | grep -E 'Time|Range' || true
fi

if [ "$corpus" = 1 ]; then
  echo
  echo "Corpus (one process per file, all DOCX/EPUB/Markdown files; CPU seconds, sum):"
  for folder in docx epub md; do
    from=$folder; [ "$folder" = md ] && from=markdown
    rsum=0; psum=0; n=0
    for path in "$docs/$folder"/*; do
      case $path in *.ref.txt) continue ;; esac
      read -r _ rc _ <<<"$(time_cmd 1 $READER_CMD "$path")"
      read -r _ pc _ <<<"$(time_cmd 1 timeout 300 pandoc -f "$from" -t plain "$path" -o /dev/null)"
      rsum=$(echo "$rsum + $rc" | bc); psum=$(echo "$psum + $pc" | bc); n=$((n + 1))
    done
    printf '  %-5s %3d files: reader %8.2f s, pandoc %8.2f s, speed-up %.0fx\n' "$folder" "$n" "$rsum" "$psum" "$(echo "$psum / ($rsum + 0.001)" | bc -l)"
  done
fi
