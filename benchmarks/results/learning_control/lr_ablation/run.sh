cd /work/main
for v in "plain:trainer.forward=plain" "lr1e-4:optim.lr=1e-4" "t1:loss.logprob_temperature=1.0" "lr3e-4:optim.lr=3e-4"; do
  name=${v%%:*}; ov=${v#*:}
  rm -rf /tmp/lcx/$name
  python -m codereset.train +experiment=learning_control +agent=grpo model.name=/work/main/outputs/learning_control/warmstart trainer.steps=12 validation.every=6 trainer.progress=false trainer.output_dir=/tmp/lcx/$name $ov > /tmp/lcx/$name.log 2>&1
  python -c "
import json
rs=[json.loads(l) for l in open('/tmp/lcx/$name/metrics.jsonl')]
print('$name', [round(r['pass_rate'],2) for r in rs])
ev=[json.loads(l) for l in open('/tmp/lcx/$name/eval.jsonl')]
print('  val', [(e['step'], round(e['pass_at_k'],3)) for e in ev])
"
done
