//! CLUSTER: picket-node runs without cluster support, so every subcommand answers as Redis 7.0
//! does with `cluster-enabled no` (the command exists: scripts get its own refusal, COMMAND
//! lists it).

use super::Ctx;
use bytes::Bytes;

pub fn disabled(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out
        .error("ERR This instance has cluster support disabled");
}
