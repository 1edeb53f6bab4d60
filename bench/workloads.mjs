// Benchmark workloads. Each prepares its inputs deterministically in a temp dir, returns the
// shiplog config, how many records must arrive, and optionally its own receiver/delivery count.

const service = (dir, extra = '') =>
  `service:\n  data_dir: ${dir}/data\n  http: { listen: "127.0.0.1:0" }\n  log_level: info\n${extra}`;

export const workloads = [
  {
    id: 'W0',
    description:
      'demo (rate 0, structured agent records) → stdout json → /dev/null: the engine alone',
    async prepare({ dir, quick }) {
      const n = quick ? 500_000 : 2_000_000;
      return {
        expect: n,
        config: `${service(dir)}pipeline:\n  inputs:\n    - type: demo\n      rate: 0\n      count: ${n}\n  outputs:\n    - type: stdout\n      format: json\n`,
      };
    },
  },
];
