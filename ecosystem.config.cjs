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
      max_restarts: 50,
      restart_delay: 2000,
      merge_logs: true,
      time: false,
      env: {
        NODE_ENV: 'production',
      },
    },
  ],
};
