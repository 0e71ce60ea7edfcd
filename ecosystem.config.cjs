// pm2 process file: `npm run build && npx pm2 start ecosystem.config.cjs`.
// Runs the compiled JavaScript (no TypeScript toolchain at run time). kill_timeout gives the
// SIGINT handler time to stop intake, flush, persist and close the database before pm2 escalates.
module.exports = {
  apps: [
    {
      name: 'crazy-trade-bot',
      script: 'dist/src/main.js',
      cwd: __dirname,
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      kill_timeout: 15000,
      // A crash restarts after 200 ms, then 1.5× longer each time up to 15 s (reset once it stays
      // up): a failing start backs off instead of looping back to back.
      exp_backoff_restart_delay: 200,
      // Exit 2 is a refused start (invalid configuration, keys Alpaca refused, database held by
      // another process or written by a newer version): restarting cannot fix it, a person must.
      stop_exit_codes: [2],
      merge_logs: true,
      time: false,
      env: {
        NODE_ENV: 'production',
      },
    },
  ],
};
