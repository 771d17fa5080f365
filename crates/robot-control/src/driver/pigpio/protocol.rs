//! The pigpio daemon's socket protocol, in one public place: the driver speaks it, and the tests
//! (robot-control's and the reliability suite's) check the exact bytes against it.
//!
//! The seed used gpiozero's `PiGPIOFactory`, which speaks this protocol to `pigpiod` (TCP, port
//! 8888 by default). Every request is 16 bytes, four little-endian u32 `cmd, p1, p2, p3` (`p3` is
//! the length of an optional extension, always 0 here); every response is 16 bytes `cmd, p1, p2,
//! res` where `res` is an i32, negative on error (a `PI_*` error code).
//!
//! Command codes used (pigpio.h `PI_CMD_*`, documented with `pigs` at
//! <https://abyz.me.uk/rpi/pigpio/sif.html>):
//!
//! | code | name  | p1   | p2                                  |
//! |------|-------|------|-------------------------------------|
//! | 0    | MODES | gpio | mode (1 = output)                   |
//! | 4    | WRITE | gpio | level (0/1)                         |
//! | 5    | PWM   | gpio | duty cycle, 0..range                |
//! | 6    | PRS   | gpio | PWM range, 25..40000 (res = real range) |
//! | 8    | SERVO | gpio | pulse width µs, 0 (off) or 500..2500 |

use crate::driver::PinOp;

pub const CMD_MODES: u32 = 0;
pub const CMD_WRITE: u32 = 4;
pub const CMD_PWM: u32 = 5;
pub const CMD_PRS: u32 = 6;
pub const CMD_SERVO: u32 = 8;
/// `MODES` argument for output.
pub const MODE_OUTPUT: u32 = 1;

/// Length of every request and every response.
pub const FRAME_LEN: usize = 16;

/// The request `cmd, p1, p2, 0` (no extension).
pub fn request(cmd: u32, p1: u32, p2: u32) -> [u8; FRAME_LEN] {
    let mut frame = [0u8; FRAME_LEN];
    frame[0..4].copy_from_slice(&cmd.to_le_bytes());
    frame[4..8].copy_from_slice(&p1.to_le_bytes());
    frame[8..12].copy_from_slice(&p2.to_le_bytes());
    frame
}

/// The request for `op`.
pub fn encode(op: PinOp) -> [u8; FRAME_LEN] {
    let (cmd, p1, p2) = match op {
        PinOp::SetOutput { pin } => (CMD_MODES, u32::from(pin), MODE_OUTPUT),
        PinOp::Write { pin, high } => (CMD_WRITE, u32::from(pin), u32::from(high)),
        PinOp::PwmRange { pin, range } => (CMD_PRS, u32::from(pin), range),
        PinOp::Pwm { pin, duty } => (CMD_PWM, u32::from(pin), duty),
        PinOp::Servo { pin, pulse_us } => (CMD_SERVO, u32::from(pin), pulse_us),
    };
    request(cmd, p1, p2)
}

/// A decoded response: the command and gpio it answers, and the daemon's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub cmd: u32,
    pub p1: u32,
    /// Negative: a `PI_*` error code.
    pub res: i32,
}

/// Reads the `cmd`, `p1` and `res` words of a response.
pub fn decode_response(frame: &[u8; FRAME_LEN]) -> Response {
    let word = |i: usize| [frame[i], frame[i + 1], frame[i + 2], frame[i + 3]];
    Response {
        cmd: u32::from_le_bytes(word(0)),
        p1: u32::from_le_bytes(word(4)),
        res: i32::from_le_bytes(word(12)),
    }
}

/// True when `frame` is a `WRITE` of level 1 (a motor or an eye switched on).
pub fn is_high_write(frame: &[u8; FRAME_LEN]) -> bool {
    frame[0..4] == CMD_WRITE.to_le_bytes() && frame[8..12] == 1u32.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_four_little_endian_words() {
        assert_eq!(
            encode(PinOp::Write {
                pin: 13,
                high: true
            }),
            [4, 0, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            encode(PinOp::Servo {
                pin: 22,
                pulse_us: 2000
            }),
            [8, 0, 0, 0, 22, 0, 0, 0, 0xd0, 0x07, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            request(CMD_WRITE, 13, 1),
            encode(PinOp::Write {
                pin: 13,
                high: true
            })
        );
    }

    #[test]
    fn responses_carry_a_signed_result() {
        let mut frame = request(CMD_WRITE, 16, 1);
        frame[12..16].copy_from_slice(&(-41i32).to_le_bytes());
        assert_eq!(
            decode_response(&frame),
            Response {
                cmd: CMD_WRITE,
                p1: 16,
                res: -41
            }
        );
        assert!(is_high_write(&request(CMD_WRITE, 16, 1)));
        assert!(!is_high_write(&request(CMD_WRITE, 16, 0)));
        assert!(!is_high_write(&request(CMD_SERVO, 16, 1)));
    }
}
