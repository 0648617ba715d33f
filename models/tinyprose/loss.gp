# gnuplot script for loss.png (run from the repository root):
#   gnuplot -e "log='models/tinyprose/train_log.tsv'; out='models/tinyprose/loss.png'" models/tinyprose/loss.gp
# train_log.tsv columns: step tokens lr train_loss calib_loss elapsed_s (header line first).
if (!exists("log")) log = 'models/tinyprose/train_log.tsv'
if (!exists("out")) out = 'models/tinyprose/loss.png'
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
set key top right
set grid
set title "tinyprose training loss (tools/train-tiny)"
set xlabel "training tokens (millions)"
set ylabel "cross-entropy (nats/token)"
set y2label "learning rate"
set y2tics
set ytics nomirror
set yrange [*:*]
plot log every ::1 using ($2/1e6):4 with lines lw 2 title "train (mean since previous point)", \
     log every ::1 using ($2/1e6):5 with linespoints pt 7 ps 0.5 lw 1 title "calib slice (16 windows x 256)", \
     log every ::1 using ($2/1e6):3 axes x1y2 with lines dt 2 lc rgb "gray" title "learning rate"
